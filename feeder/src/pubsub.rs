//! Solana PubSub JSON-RPC frames: parsing what a node sends, building what we send.
//!
//! Parsing is one `serde_json` pass over the frame into borrowed strings (a copy is made only
//! when the server escaped a character inside one), dispatched on the frame's shape:
//! a response to one of our requests (`result` or `error` with our `id`) or a notification
//! (`method` + `params`). Account data stays base64 in the parsed frame; the caller decodes
//! it into a buffer of its own ([`AccountNotification::decode_data`]), so the hot path
//! allocates nothing. Unknown keys are tolerated (nodes add fields), unknown methods and
//! non-base64 encodings are errors, and no input panics.

use crate::config::Commitment;
use crate::decode::Pubkey;
use base64::Engine as _;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// Why a frame could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PubSubError {
    /// The frame is larger than the configured limit (it was not parsed).
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    FrameTooLarge {
        /// Frame size.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Not JSON, or JSON of the wrong shape.
    #[error("malformed frame: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but neither a response (`result`/`error`) nor a notification (`method`).
    #[error("not a JSON-RPC response or notification")]
    NotJsonRpc,
    /// A notification method this client does not subscribe to.
    #[error("unknown notification method {0:?}")]
    UnknownMethod(String),
    /// A field the frame's kind requires is absent.
    #[error("{method}: missing {field}")]
    Missing {
        /// The method, or `response`.
        method: &'static str,
        /// Path of the missing field.
        field: &'static str,
    },
    /// A response whose `result` is neither a subscription id nor a boolean.
    #[error("response {id:?}: result is neither a subscription id nor a boolean")]
    UnexpectedResult {
        /// The response's id.
        id: Option<u64>,
    },
    /// Account data in an encoding other than base64.
    #[error("account data is encoded as {0}, expected base64")]
    WrongEncoding(String),
    /// Account data larger than the buffer it is decoded into.
    #[error("account data of {len} bytes exceeds the {max}-byte limit")]
    DataTooLarge {
        /// Decoded size.
        len: usize,
        /// Buffer size.
        max: usize,
    },
    /// Account data that is not valid base64.
    #[error("account data is not valid base64: {0}")]
    Base64(#[from] base64::DecodeSliceError),
}

/// One parsed PubSub frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A subscribe request succeeded: the node will tag notifications with `subscription`.
    Subscribed {
        /// Our request id.
        id: u64,
        /// The node's subscription id.
        subscription: u64,
    },
    /// An unsubscribe request's answer.
    Unsubscribed {
        /// Our request id.
        id: u64,
        /// Whether the node removed the subscription.
        removed: bool,
    },
    /// A JSON-RPC error (to one of our requests when `id` is set).
    Error {
        /// Our request id, if the node could tell which request failed.
        id: Option<u64>,
        /// JSON-RPC error code.
        code: i64,
        /// Error message.
        message: Cow<'a, str>,
    },
    /// An `accountNotification`.
    Account(AccountNotification<'a>),
    /// A `slotNotification`.
    Slot {
        /// Subscription id.
        subscription: u64,
        /// The new slot.
        slot: u64,
        /// Its parent.
        parent: u64,
        /// The current root.
        root: u64,
    },
}

/// An `accountNotification`: a new state of one subscribed account.
#[derive(Debug, PartialEq, Eq)]
pub struct AccountNotification<'a> {
    /// Subscription id (maps back to the account).
    pub subscription: u64,
    /// `params.result.context.slot`: the slot of this state.
    pub slot: u64,
    /// Account balance.
    pub lamports: u64,
    /// Owning program, base58.
    pub owner: Cow<'a, str>,
    /// Account data, base64 (decode with [`Self::decode_data`]).
    pub data_base64: Cow<'a, str>,
}

impl AccountNotification<'_> {
    /// Exact size of the account data, from the base64 length (no decoding). `None` when the
    /// length is not one a padded base64 string can have.
    pub fn data_len(&self) -> Option<usize> {
        let s = self.data_base64.as_bytes();
        if !s.len().is_multiple_of(4) {
            return None;
        }
        let padding = s.iter().rev().take(2).take_while(|&&b| b == b'=').count();
        Some(s.len() / 4 * 3 - padding)
    }

    /// Decode the account data into `out`, returning the filled prefix. Data larger than
    /// `out` is refused before any decoding.
    pub fn decode_data<'o>(&self, out: &'o mut [u8]) -> Result<&'o [u8], PubSubError> {
        if let Some(len) = self.data_len() {
            if len > out.len() {
                return Err(PubSubError::DataTooLarge {
                    len,
                    max: out.len(),
                });
            }
        }
        let n = base64::engine::general_purpose::STANDARD
            .decode_slice(self.data_base64.as_bytes(), out)?;
        Ok(out.get(..n).unwrap_or(&[]))
    }
}

/// Parse one text frame; frames over `max_frame_bytes` are refused unparsed.
pub fn parse_frame(text: &str, max_frame_bytes: usize) -> Result<Frame<'_>, PubSubError> {
    if text.len() > max_frame_bytes {
        return Err(PubSubError::FrameTooLarge {
            len: text.len(),
            max: max_frame_bytes,
        });
    }
    let env: Envelope<'_> = serde_json::from_str(text)?;
    if let Some(method) = env.method {
        return notification(method, env.params);
    }
    if let Some(error) = env.error {
        return Ok(Frame::Error {
            id: env.id,
            code: error.code,
            message: error.message.0,
        });
    }
    match env.result {
        Some(result) => {
            let id = env.id.ok_or(PubSubError::Missing {
                method: "response",
                field: "id",
            })?;
            match result {
                ResponseResult::Subscription(subscription) => {
                    Ok(Frame::Subscribed { id, subscription })
                }
                ResponseResult::Removed(removed) => Ok(Frame::Unsubscribed { id, removed }),
                ResponseResult::Other(_) => Err(PubSubError::UnexpectedResult { id: Some(id) }),
            }
        }
        None => Err(PubSubError::NotJsonRpc),
    }
}

fn notification<'a>(
    method: CowStr<'a>,
    params: Option<Params<'a>>,
) -> Result<Frame<'a>, PubSubError> {
    let (name, is_account) = match &*method.0 {
        "accountNotification" => ("accountNotification", true),
        "slotNotification" => ("slotNotification", false),
        other => return Err(PubSubError::UnknownMethod(other.to_owned())),
    };
    let missing = |field| PubSubError::Missing {
        method: name,
        field,
    };
    let params = params.ok_or(missing("params"))?;
    let subscription = params.subscription.ok_or(missing("params.subscription"))?;
    let result = params.result.ok_or(missing("params.result"))?;
    if is_account {
        let slot = result
            .context
            .and_then(|c| c.slot)
            .ok_or(missing("params.result.context.slot"))?;
        let value = result.value.ok_or(missing("params.result.value"))?;
        let lamports = value
            .lamports
            .ok_or(missing("params.result.value.lamports"))?;
        let owner = value.owner.ok_or(missing("params.result.value.owner"))?.0;
        let data_base64 = match value.data.ok_or(missing("params.result.value.data"))? {
            Data::Base64(s) => s,
            Data::Other(encoding) => return Err(PubSubError::WrongEncoding(encoding)),
        };
        Ok(Frame::Account(AccountNotification {
            subscription,
            slot,
            lamports,
            owner,
            data_base64,
        }))
    } else {
        Ok(Frame::Slot {
            subscription,
            slot: result.slot.ok_or(missing("params.result.slot"))?,
            parent: result.parent.ok_or(missing("params.result.parent"))?,
            root: result.root.ok_or(missing("params.result.root"))?,
        })
    }
}

/// `accountSubscribe` for `account`, base64 data at `commitment`.
pub fn account_subscribe(id: u64, account: &Pubkey, commitment: Commitment) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"accountSubscribe","params":["{account}",{{"encoding":"base64","commitment":"{}"}}]}}"#,
        commitment.as_str()
    )
}

/// `slotSubscribe` (it takes no parameters).
pub fn slot_subscribe(id: u64) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"slotSubscribe"}}"#)
}

/// `accountUnsubscribe` of `subscription`.
pub fn account_unsubscribe(id: u64, subscription: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"accountUnsubscribe","params":[{subscription}]}}"#
    )
}

// ---- wire shapes: a superset of every frame kind, each field optional ----

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    method: Option<CowStr<'a>>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    result: Option<ResponseResult>,
    #[serde(borrow, default)]
    error: Option<RpcError<'a>>,
    #[serde(borrow, default)]
    params: Option<Params<'a>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ResponseResult {
    Subscription(u64),
    Removed(bool),
    Other(IgnoredAny),
}

#[derive(Deserialize)]
struct RpcError<'a> {
    code: i64,
    #[serde(borrow)]
    message: CowStr<'a>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow, default)]
    result: Option<NotificationResult<'a>>,
    #[serde(default)]
    subscription: Option<u64>,
}

#[derive(Deserialize)]
struct NotificationResult<'a> {
    #[serde(default)]
    context: Option<Context>,
    #[serde(borrow, default)]
    value: Option<AccountValue<'a>>,
    #[serde(default)]
    slot: Option<u64>,
    #[serde(default)]
    parent: Option<u64>,
    #[serde(default)]
    root: Option<u64>,
}

#[derive(Deserialize)]
struct Context {
    #[serde(default)]
    slot: Option<u64>,
}

#[derive(Deserialize)]
struct AccountValue<'a> {
    #[serde(default)]
    lamports: Option<u64>,
    #[serde(borrow, default)]
    data: Option<Data<'a>>,
    #[serde(borrow, default)]
    owner: Option<CowStr<'a>>,
}

/// A string borrowed from the frame unless the server escaped something inside it.
struct CowStr<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// `value.data`: `[data, "base64"]` as we ask for; anything else is named, not guessed at.
enum Data<'a> {
    Base64(Cow<'a, str>),
    Other(String),
}

impl<'de: 'a, 'a> Deserialize<'de> for Data<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Data<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[data, encoding]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let data: CowStr<'de> = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let encoding: CowStr<'de> = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(if encoding.0 == "base64" {
                    Data::Base64(data.0)
                } else {
                    Data::Other(format!("{:?}", encoding.0))
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Data::Other("an object (jsonParsed)".to_owned()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Data::Other("a bare string (binary/base58)".to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    #[test]
    fn account_notification_as_a_node_sends_it() {
        let frame = r#"{"jsonrpc":"2.0","method":"accountNotification","params":{"result":{"context":{"slot":5208469},"value":{"data":["AQID","base64"],"executable":false,"lamports":33594,"owner":"11111111111111111111111111111111","rentEpoch":635,"space":3}},"subscription":23784}}"#;
        let Frame::Account(n) = parse_frame(frame, MAX).unwrap() else {
            panic!("not an account notification")
        };
        assert_eq!(
            (n.subscription, n.slot, n.lamports),
            (23784, 5208469, 33594)
        );
        assert_eq!(n.owner, "11111111111111111111111111111111");
        assert!(matches!(n.data_base64, Cow::Borrowed(_)), "no copy");
        let mut buf = [0u8; 8];
        assert_eq!(n.decode_data(&mut buf).unwrap(), &[1, 2, 3]);
        assert_eq!(n.data_len(), Some(3));
    }

    #[test]
    fn escaped_strings_are_still_read() {
        let frame = r#"{"method":"accountNotification","params":{"result":{"context":{"slot":1},"value":{"data":["AQ\u003d\u003d","base64"],"lamports":0,"owner":"x"}},"subscription":1}}"#;
        let Frame::Account(n) = parse_frame(frame, MAX).unwrap() else {
            panic!()
        };
        let mut buf = [0u8; 1];
        assert_eq!(n.decode_data(&mut buf).unwrap(), &[1]);
    }
}
