//! The sandbox rail's fault profile: how it misbehaves on request, as a real rail does on
//! a bad day — latency; throttles, server errors and timeouts on orders and status queries
//! (some after taking the order, so its outcome is unknown to Tucano); dropped, duplicated
//! and reordered notifications; contradictory verdicts and other settled amounts. Set at
//! start by `tucano sandbox-rail` flags and at any time by `PUT /falhas`; faults drawn by
//! chance follow a seed, and a script (`roteiro`) lines up exact faults for the next orders.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How often each fault strikes (0.0 to 1.0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Mix {
    /// 429 Too Many Requests; the order is not taken.
    pub erro429: f64,
    /// 500 after the order was taken: its outcome is unknown to Tucano.
    pub erro500: f64,
    /// No answer within `timeoutMs`, after the order was taken.
    pub timeout: f64,
}

/// What can go wrong with notifications to Tucano.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct NotificationFaults {
    /// Never sent (only the reconciler can find out).
    pub descartar: f64,
    /// Sent twice: once more under the same id, once under a fresh one.
    pub duplicar: f64,
    /// Each copy waits a random 0-300 ms, so notifications arrive in no particular order.
    pub reordenar: bool,
}

/// One fault lined up for the next order: an HTTP status (`"429"`, `"408"`, `"500"`, ...;
/// 4xx are answered without taking the order, 5xx after taking it; `"429-aceita"` takes
/// it anyway, `"500-antes"` does not), `"timeout"`, `"rejeitar:AC03"`, `"contradizer"`,
/// `"liquidar:12.34"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum OrderFault {
    /// An error status; `taken`: the order was taken anyway (and will be decided).
    Http { status: u16, taken: bool },
    /// Taken, but the answer comes only after the timeout.
    Timeout,
    /// 422 with this final reason code.
    Reject(String),
    /// Decided as usual, then the opposite verdict a moment later.
    Contradict,
    /// Settled for another amount than ordered.
    SettleAmount(String),
}

impl TryFrom<String> for OrderFault {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let (code, suffix) = s.split_once('-').unwrap_or((s.as_str(), ""));
        if let Ok(status) = code.parse::<u16>() {
            let taken = match suffix {
                "" => status >= 500,
                "aceita" => true,
                "antes" => false,
                _ => return Err(format!("unknown fault {s:?}")),
            };
            if !(400..=599).contains(&status) {
                return Err(format!("{status} is not an error status"));
            }
            return Ok(OrderFault::Http { status, taken });
        }
        Ok(match s.as_str() {
            "timeout" => OrderFault::Timeout,
            "contradizer" => OrderFault::Contradict,
            other => match other.split_once(':') {
                Some(("rejeitar", code)) if tucano_shared::domain::verdict::RejectionCode::parse(code).is_some() => {
                    OrderFault::Reject(code.to_owned())
                }
                Some(("liquidar", valor)) if tucano_shared::domain::money::Amount::parse(valor).is_ok() => {
                    OrderFault::SettleAmount(valor.to_owned())
                }
                _ => return Err(format!("unknown fault {other:?}")),
            },
        })
    }
}

impl From<OrderFault> for String {
    fn from(f: OrderFault) -> String {
        match f {
            OrderFault::Http { status, taken } => match (taken, status >= 500) {
                (true, true) | (false, false) => status.to_string(),
                (true, false) => format!("{status}-aceita"),
                (false, true) => format!("{status}-antes"),
            },
            OrderFault::Timeout => "timeout".into(),
            OrderFault::Reject(code) => format!("rejeitar:{code}"),
            OrderFault::Contradict => "contradizer".into(),
            OrderFault::SettleAmount(valor) => format!("liquidar:{valor}"),
        }
    }
}

impl OrderFault {
    /// Whether the order is taken (and later decided) despite the fault.
    pub fn taken(&self) -> bool {
        match self {
            OrderFault::Http { taken, .. } => *taken,
            OrderFault::Timeout | OrderFault::Contradict | OrderFault::SettleAmount(_) => true,
            OrderFault::Reject(_) => false,
        }
    }
}

/// The whole profile. All zero: a well-behaved rail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FaultProfile {
    /// Added before every answer to an order or a status query.
    pub latencia_ms: u64,
    /// How long a timeout keeps Tucano waiting (default 15 000 ms, above Tucano's 10 s).
    pub timeout_ms: Option<u64>,
    pub ordens: Mix,
    pub consultas: Mix,
    pub notificacoes: NotificationFaults,
    /// How often a decided order is contradicted a moment later.
    pub contraditorio: f64,
    /// Faults for the next orders, first to last, before any drawn by chance.
    pub roteiro: Vec<OrderFault>,
    /// Seed of the draws: the same seed gives the same faults.
    pub semente: Option<u64>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_millis(15_000);

impl FaultProfile {
    /// Checks that every chance is between 0 and 1.
    pub fn validate(&self) -> Result<(), String> {
        let chances = [
            self.ordens.erro429,
            self.ordens.erro500,
            self.ordens.timeout,
            self.consultas.erro429,
            self.consultas.erro500,
            self.consultas.timeout,
            self.notificacoes.descartar,
            self.notificacoes.duplicar,
            self.contraditorio,
        ];
        if chances.iter().any(|c| !(0.0..=1.0).contains(c)) {
            return Err("every chance must be between 0 and 1".into());
        }
        if self.latencia_ms > 60_000 || self.timeout_ms.is_some_and(|t| t > 120_000) {
            return Err("latenciaMs is at most 60000 and timeoutMs at most 120000".into());
        }
        Ok(())
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latencia_ms)
    }

    pub fn timeout(&self) -> Duration {
        self.timeout_ms.map_or(DEFAULT_TIMEOUT, Duration::from_millis)
    }
}

/// The profile in force and its random source.
pub struct Faults {
    pub profile: FaultProfile,
    rng: StdRng,
}

impl Faults {
    pub fn new(profile: FaultProfile) -> Self {
        let rng = match profile.semente {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        Faults { profile, rng }
    }

    fn draw(&mut self, chance: f64) -> bool {
        chance > 0.0 && self.rng.gen_bool(chance.min(1.0))
    }

    /// The fault for the next order, if any: the script first, then chance.
    pub fn next_order(&mut self) -> Option<OrderFault> {
        if !self.profile.roteiro.is_empty() {
            return Some(self.profile.roteiro.remove(0));
        }
        let mix = self.profile.ordens;
        match self.draw_mix(mix, true) {
            Some(f) => Some(f),
            None => self.draw(self.profile.contraditorio).then_some(OrderFault::Contradict),
        }
    }

    /// The fault for the next status query, if any (nothing is taken by a query).
    pub fn next_query(&mut self) -> Option<OrderFault> {
        let mix = self.profile.consultas;
        self.draw_mix(mix, false)
    }

    /// A 429 (never taken), a 500 (taken when `taken_on_500`) or a timeout, by chance.
    fn draw_mix(&mut self, mix: Mix, taken_on_500: bool) -> Option<OrderFault> {
        if self.draw(mix.erro429) {
            Some(OrderFault::Http { status: 429, taken: false })
        } else if self.draw(mix.erro500) {
            Some(OrderFault::Http { status: 500, taken: taken_on_500 })
        } else if self.draw(mix.timeout) {
            Some(OrderFault::Timeout)
        } else {
            None
        }
    }

    /// How many copies of a notification to send (0: dropped), and each copy's delay.
    pub fn copies(&mut self) -> Vec<Duration> {
        let n = self.profile.notificacoes;
        if self.draw(n.descartar) {
            return vec![];
        }
        let count = if self.draw(n.duplicar) { 3 } else { 1 };
        (0..count)
            .map(|_| if n.reordenar { Duration::from_millis(self.rng.gen_range(0..300)) } else { Duration::ZERO })
            .collect()
    }
}

/// `tucano sandbox-rail` flags for the fault profile (all off by default).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FaultFlags {
    /// Milliseconds added before every answer to an order or a status query.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// How long a timeout fault keeps Tucano waiting.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Chance of a 429 (order not taken) on each order.
    #[arg(long, default_value_t = 0.0)]
    pub order_429: f64,
    /// Chance of a 500 after the order was taken.
    #[arg(long, default_value_t = 0.0)]
    pub order_500: f64,
    /// Chance of a timeout after the order was taken.
    #[arg(long, default_value_t = 0.0)]
    pub order_timeout: f64,
    /// Chance of a 429 on a status query.
    #[arg(long, default_value_t = 0.0)]
    pub status_429: f64,
    /// Chance of a 500 on a status query.
    #[arg(long, default_value_t = 0.0)]
    pub status_500: f64,
    /// Chance of a timeout on a status query.
    #[arg(long, default_value_t = 0.0)]
    pub status_timeout: f64,
    /// Chance that a notification is never sent.
    #[arg(long, default_value_t = 0.0)]
    pub drop_notifications: f64,
    /// Chance that a notification is sent three times.
    #[arg(long, default_value_t = 0.0)]
    pub duplicate_notifications: f64,
    /// Deliver notifications in no particular order.
    #[arg(long)]
    pub reorder_notifications: bool,
    /// Chance that a decided order is contradicted a moment later.
    #[arg(long, default_value_t = 0.0)]
    pub contradict: f64,
    /// Seed of the draws.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl From<FaultFlags> for FaultProfile {
    fn from(f: FaultFlags) -> Self {
        FaultProfile {
            latencia_ms: f.latency_ms,
            timeout_ms: f.timeout_ms,
            ordens: Mix { erro429: f.order_429, erro500: f.order_500, timeout: f.order_timeout },
            consultas: Mix { erro429: f.status_429, erro500: f.status_500, timeout: f.status_timeout },
            notificacoes: NotificationFaults {
                descartar: f.drop_notifications,
                duplicar: f.duplicate_notifications,
                reordenar: f.reorder_notifications,
            },
            contraditorio: f.contradict,
            roteiro: vec![],
            semente: f.seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_faults_come_first_and_in_order() {
        let profile: FaultProfile =
            serde_json::from_value(serde_json::json!({"roteiro": ["429-aceita", "rejeitar:AC07", "timeout", "503"]}))
                .unwrap();
        let mut f = Faults::new(profile);
        assert_eq!(f.next_order(), Some(OrderFault::Http { status: 429, taken: true }));
        assert_eq!(f.next_order(), Some(OrderFault::Reject("AC07".into())));
        assert_eq!(f.next_order(), Some(OrderFault::Timeout));
        assert_eq!(f.next_order(), Some(OrderFault::Http { status: 503, taken: true }));
        assert_eq!(f.next_order(), None);
    }

    #[test]
    fn unknown_faults_and_chances_out_of_range_are_refused() {
        assert!(serde_json::from_value::<FaultProfile>(serde_json::json!({"roteiro": ["rejeitar:XX01"]})).is_err());
        for bad in ["boom", "200", "429-talvez", "700"] {
            assert!(serde_json::from_value::<FaultProfile>(serde_json::json!({"roteiro": [bad]})).is_err(), "{bad}");
        }
        let p: FaultProfile = serde_json::from_value(serde_json::json!({"ordens": {"erro429": 1.5}})).unwrap();
        assert!(p.validate().is_err());
    }

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let profile = FaultProfile {
            ordens: Mix { erro429: 0.3, erro500: 0.3, timeout: 0.1 },
            semente: Some(7),
            ..Default::default()
        };
        let draws = |p: &FaultProfile| {
            let mut f = Faults::new(p.clone());
            (0..50).map(|_| f.next_order()).collect::<Vec<_>>()
        };
        assert_eq!(draws(&profile), draws(&profile));
        assert!(draws(&profile).iter().any(Option::is_some));
    }
}
