//! Raydium AMM v4 `AmmInfo`: fees and the pnl owed, which turn vault balances into reserves.
//!
//! Layout: `AmmInfo`, `Fees` and `StateData` of `raydium-io/raydium-amm`
//! `program/src/state.rs`, all `#[repr(C, packed)]` (no padding between fields), 752 bytes, no
//! discriminator. The pool trades at `swap_fee_numerator / swap_fee_denominator`
//! (`processor.rs`, swap), on vault balances less `need_take_pnl_*`
//! (`calc_total_without_take_pnl_no_orderbook`).

use super::{check_len, AccountKind, DecodeError, Pubkey, Reader, Writer};

/// Size of an `AmmInfo` account.
pub const LEN: usize = 752;

const KIND: AccountKind = AccountKind::RaydiumAmmV4;

/// `Fees` (64 bytes, at offset 128).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fees {
    /// Numerator of min_separate.
    pub min_separate_numerator: u64,
    /// Denominator of min_separate.
    pub min_separate_denominator: u64,
    /// Numerator of the (order-book) trade fee.
    pub trade_fee_numerator: u64,
    /// Denominator of the trade fee.
    pub trade_fee_denominator: u64,
    /// Numerator of the pnl share.
    pub pnl_numerator: u64,
    /// Denominator of the pnl share.
    pub pnl_denominator: u64,
    /// Numerator of the fee a swap pays.
    pub swap_fee_numerator: u64,
    /// Denominator of the fee a swap pays.
    pub swap_fee_denominator: u64,
}

/// `StateData` (144 bytes, at offset 192).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateData {
    /// Coin owed to the protocol, still in the coin vault.
    pub need_take_pnl_coin: u64,
    /// Pc owed to the protocol, still in the pc vault.
    pub need_take_pnl_pc: u64,
    /// Deprecated.
    pub total_pnl_pc: u64,
    /// Deprecated.
    pub total_pnl_coin: u64,
    /// Pool open time (unix seconds).
    pub pool_open_time: u64,
    /// Older layouts' `punish_pc_amount`; the current source calls it `padding[0]`.
    pub punish_pc_amount: u64,
    /// Older layouts' `punish_coin_amount`; the current source calls it `padding[1]`.
    pub punish_coin_amount: u64,
    /// Deprecated.
    pub orderbook_to_init_time: u64,
    /// Deprecated.
    pub swap_coin_in_amount: u128,
    /// Deprecated.
    pub swap_pc_out_amount: u128,
    /// Deprecated.
    pub swap_acc_pc_fee: u64,
    /// Deprecated.
    pub swap_pc_in_amount: u128,
    /// Deprecated.
    pub swap_coin_out_amount: u128,
    /// Deprecated.
    pub swap_acc_coin_fee: u64,
}

/// A decoded Raydium AMM v4 pool account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AmmInfo {
    /// `AmmStatus` (6 = SwapOnly, ...).
    pub status: u64,
    /// Nonce of the pool authority PDA.
    pub nonce: u64,
    /// Max order count.
    pub order_num: u64,
    /// Order-book depth.
    pub depth: u64,
    /// Coin mint decimals.
    pub coin_decimals: u64,
    /// Pc mint decimals.
    pub pc_decimals: u64,
    /// `AmmState`.
    pub state: u64,
    /// `AmmResetFlag`.
    pub reset_flag: u64,
    /// Min size.
    pub min_size: u64,
    /// Volume max cut ratio (numerator; `sys_decimal_value` is the denominator).
    pub vol_max_cut_ratio: u64,
    /// Amount wave.
    pub amount_wave: u64,
    /// Coin lot size.
    pub coin_lot_size: u64,
    /// Pc lot size.
    pub pc_lot_size: u64,
    /// Min price multiplier.
    pub min_price_multiplier: u64,
    /// Max price multiplier.
    pub max_price_multiplier: u64,
    /// System decimal value.
    pub sys_decimal_value: u64,
    /// Fees.
    pub fees: Fees,
    /// Pnl owed and statistics.
    pub state_data: StateData,
    /// Coin (base) vault token account.
    pub coin_vault: Pubkey,
    /// Pc (quote) vault token account.
    pub pc_vault: Pubkey,
    /// Coin mint.
    pub coin_vault_mint: Pubkey,
    /// Pc mint.
    pub pc_vault_mint: Pubkey,
    /// LP mint.
    pub lp_mint: Pubkey,
    /// OpenBook open orders.
    pub open_orders: Pubkey,
    /// OpenBook market.
    pub market: Pubkey,
    /// OpenBook program.
    pub market_program: Pubkey,
    /// Target orders account.
    pub target_orders: Pubkey,
    /// Padding (kept: not always zero in older pools).
    pub padding1: [u64; 8],
    /// Pool owner.
    pub amm_owner: Pubkey,
    /// LP supply.
    pub lp_amount: u64,
    /// Client order id.
    pub client_order_id: u64,
    /// Recent epoch.
    pub recent_epoch: u64,
    /// Padding.
    pub padding2: u64,
}

impl AmmInfo {
    /// Decode a 752-byte `AmmInfo`.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        check_len(KIND, data, LEN)?;
        let mut r = Reader::new(data);
        let [status, nonce, order_num, depth, coin_decimals, pc_decimals, state, reset_flag, min_size, vol_max_cut_ratio, amount_wave, coin_lot_size, pc_lot_size, min_price_multiplier, max_price_multiplier, sys_decimal_value] =
            r.u64s::<16>();
        let [min_separate_numerator, min_separate_denominator, trade_fee_numerator, trade_fee_denominator, pnl_numerator, pnl_denominator, swap_fee_numerator, swap_fee_denominator] =
            r.u64s::<8>();
        let fees = Fees {
            min_separate_numerator,
            min_separate_denominator,
            trade_fee_numerator,
            trade_fee_denominator,
            pnl_numerator,
            pnl_denominator,
            swap_fee_numerator,
            swap_fee_denominator,
        };
        let [need_take_pnl_coin, need_take_pnl_pc, total_pnl_pc, total_pnl_coin, pool_open_time, punish_pc_amount, punish_coin_amount, orderbook_to_init_time] =
            r.u64s::<8>();
        let state_data = StateData {
            need_take_pnl_coin,
            need_take_pnl_pc,
            total_pnl_pc,
            total_pnl_coin,
            pool_open_time,
            punish_pc_amount,
            punish_coin_amount,
            orderbook_to_init_time,
            swap_coin_in_amount: r.u128(),
            swap_pc_out_amount: r.u128(),
            swap_acc_pc_fee: r.u64(),
            swap_pc_in_amount: r.u128(),
            swap_coin_out_amount: r.u128(),
            swap_acc_coin_fee: r.u64(),
        };
        let info = AmmInfo {
            status,
            nonce,
            order_num,
            depth,
            coin_decimals,
            pc_decimals,
            state,
            reset_flag,
            min_size,
            vol_max_cut_ratio,
            amount_wave,
            coin_lot_size,
            pc_lot_size,
            min_price_multiplier,
            max_price_multiplier,
            sys_decimal_value,
            fees,
            state_data,
            coin_vault: r.pubkey(),
            pc_vault: r.pubkey(),
            coin_vault_mint: r.pubkey(),
            pc_vault_mint: r.pubkey(),
            lp_mint: r.pubkey(),
            open_orders: r.pubkey(),
            market: r.pubkey(),
            market_program: r.pubkey(),
            target_orders: r.pubkey(),
            padding1: r.u64s(),
            amm_owner: r.pubkey(),
            lp_amount: r.u64(),
            client_order_id: r.u64(),
            recent_epoch: r.u64(),
            padding2: r.u64(),
        };
        r.finish();
        Ok(info)
    }

    /// The 752 account bytes.
    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        let mut w = Writer::new(&mut out);
        w.u64s(&[
            self.status,
            self.nonce,
            self.order_num,
            self.depth,
            self.coin_decimals,
            self.pc_decimals,
            self.state,
            self.reset_flag,
            self.min_size,
            self.vol_max_cut_ratio,
            self.amount_wave,
            self.coin_lot_size,
            self.pc_lot_size,
            self.min_price_multiplier,
            self.max_price_multiplier,
            self.sys_decimal_value,
        ]);
        let f = &self.fees;
        w.u64s(&[
            f.min_separate_numerator,
            f.min_separate_denominator,
            f.trade_fee_numerator,
            f.trade_fee_denominator,
            f.pnl_numerator,
            f.pnl_denominator,
            f.swap_fee_numerator,
            f.swap_fee_denominator,
        ]);
        let s = &self.state_data;
        w.u64s(&[
            s.need_take_pnl_coin,
            s.need_take_pnl_pc,
            s.total_pnl_pc,
            s.total_pnl_coin,
            s.pool_open_time,
            s.punish_pc_amount,
            s.punish_coin_amount,
            s.orderbook_to_init_time,
        ]);
        w.u128(s.swap_coin_in_amount);
        w.u128(s.swap_pc_out_amount);
        w.u64(s.swap_acc_pc_fee);
        w.u128(s.swap_pc_in_amount);
        w.u128(s.swap_coin_out_amount);
        w.u64(s.swap_acc_coin_fee);
        for key in [
            &self.coin_vault,
            &self.pc_vault,
            &self.coin_vault_mint,
            &self.pc_vault_mint,
            &self.lp_mint,
            &self.open_orders,
            &self.market,
            &self.market_program,
            &self.target_orders,
        ] {
            w.pubkey(key);
        }
        w.u64s(&self.padding1);
        w.pubkey(&self.amm_owner);
        w.u64s(&[
            self.lp_amount,
            self.client_order_id,
            self.recent_epoch,
            self.padding2,
        ]);
        w.finish();
        out
    }

    /// Tradable reserves (coin, pc): the vault balances less the pnl the pool owes, as the
    /// program computes them before a swap.
    pub fn reserves(
        &self,
        coin_vault_amount: u64,
        pc_vault_amount: u64,
    ) -> Result<(u64, u64), DecodeError> {
        let coin = coin_vault_amount
            .checked_sub(self.state_data.need_take_pnl_coin)
            .ok_or(DecodeError::OwedExceedsVault {
                account: KIND,
                field: "need_take_pnl_coin",
                owed: self.state_data.need_take_pnl_coin,
                vault: coin_vault_amount,
            })?;
        let pc = pc_vault_amount
            .checked_sub(self.state_data.need_take_pnl_pc)
            .ok_or(DecodeError::OwedExceedsVault {
                account: KIND,
                field: "need_take_pnl_pc",
                owed: self.state_data.need_take_pnl_pc,
                vault: pc_vault_amount,
            })?;
        Ok((coin, pc))
    }

    /// The fee a swap pays, as (numerator, denominator).
    pub fn swap_fee(&self) -> (u64, u64) {
        (self.fees.swap_fee_numerator, self.fees.swap_fee_denominator)
    }
}
