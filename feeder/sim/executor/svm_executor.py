"""phantom-sim's SVM executor: LiteSVM (the prebuilt ``solders.litesvm``) behind JSON lines.

``phantom-sim --programs DIR`` starts this script (``python -c``, from the simulator binary)
and drives it over its stdin and stdout: one JSON request a line, one JSON reply a line, in
order. The simulator owns the accounts and the clock; this process only executes.

Requests (``op``):
- ``init``: ``programs`` [[program id, path]], loaded with ``add_program_from_file``.
- ``set``: ``accounts`` [[address, owner, lamports, data base64]]: written into the VM.
- ``clock``: ``slot``, ``unix``: the VM's clock sysvar.
- ``exec``: ``tx`` (base64 wire transaction), ``commit`` (false: simulate, true: execute and
  keep the result), ``sig_verify``, ``want`` (addresses whose post-state to return, or null).
  Reply: ``err`` (Solana's JSON shape of a TransactionError, or null), ``logs``, ``units``,
  ``changed`` (accounts the transaction changed, as ``set`` writes them) and ``accounts``
  (the post-states of ``want``; null for an absent account).
Every reply has ``ok``; ``ok: false`` carries ``error`` (a request it could not carry out).
"""

import base64
import json
import sys

from solders.account import Account
from solders.clock import Clock
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.rpc.responses import RpcSimulateTransactionResult
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import TransactionErrorFieldless

# Signatures and blockhashes are the simulator's to check (it knows its slots' hashes and
# whether sigVerify was asked for).
svm = LiteSVM().with_sigverify(False).with_blockhash_check(False)


def err_json(err):
    if err is None:
        return None
    shape = RpcSimulateTransactionResult(
        err=err, logs=None, accounts=None, units_consumed=None, return_data=None
    )
    return json.loads(shape.to_json())["err"]


def acc_json(address, account):
    if account is None:
        return None
    return [
        str(address),
        str(account.owner),
        account.lamports,
        base64.b64encode(bytes(account.data)).decode(),
    ]


def execute(req):
    tx = VersionedTransaction.from_bytes(base64.b64decode(req["tx"]))
    if req.get("sig_verify") and not all(tx.verify_with_results()):
        return {"err": err_json(TransactionErrorFieldless.SignatureFailure), "logs": [],
                "units": 0, "changed": [], "accounts": None}  # fmt: skip
    keys = list(tx.message.account_keys)
    before = {k: svm.get_account(k) for k in keys}
    if req.get("commit"):
        res = svm.send_transaction(tx)
        after = {k: svm.get_account(k) for k in keys}
    else:
        res = svm.simulate_transaction(tx)
        after = dict(before)
        if not isinstance(res, FailedTransactionMetadata):
            after.update(dict(res.post_accounts()))
    failed = isinstance(res, FailedTransactionMetadata)
    meta = res if isinstance(res, TransactionMetadata) else res.meta()
    changed = [acc_json(k, after[k]) for k in keys
               if after.get(k) is not None and after[k] != before.get(k)]  # fmt: skip
    want = req.get("want")
    accounts = None
    if want is not None:
        accounts = []
        for a in want:
            k = Pubkey.from_string(a)
            acc = after[k] if k in after else svm.get_account(k)
            accounts.append(acc_json(k, acc))
    return {
        "err": err_json(res.err()) if failed else None,
        "logs": list(meta.logs()),
        "units": meta.compute_units_consumed(),
        "changed": changed,
        "accounts": accounts,
    }


def handle(req):
    op = req.get("op")
    if op == "init":
        for program_id, path in req["programs"]:
            svm.add_program_from_file(Pubkey.from_string(program_id), path)
        return {}
    if op == "set":
        for address, owner, lamports, data in req["accounts"]:
            svm.set_account(
                Pubkey.from_string(address),
                Account(lamports=lamports, data=base64.b64decode(data),
                        owner=Pubkey.from_string(owner), executable=False, rent_epoch=0),
            )  # fmt: skip
        return {}
    if op == "clock":
        slot, unix = req["slot"], req["unix"]
        c = svm.get_clock()
        svm.set_clock(Clock(slot, c.epoch_start_timestamp, c.epoch, c.leader_schedule_epoch, unix))
        return {}
    if op == "exec":
        return execute(req)
    raise ValueError(f"unknown op {op!r}")


def main():
    for line in sys.stdin:
        try:
            reply = handle(json.loads(line))
            reply["ok"] = True
        except Exception as e:  # a bad request is answered, never fatal
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


main()
