//! Counts of the delivery worker's outcomes, for `/metrics`: an operator sees a provider outage
//! as `retrying` climbing, and lost messages as `gave_up`.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::Channel;

/// What became of one attempt to deliver a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Failed; tried again later.
    Retrying,
    /// Failed for the last time.
    GaveUp,
}

const OUTCOMES: [(Outcome, &str); 3] = [(Outcome::Sent, "sent"), (Outcome::Retrying, "retrying"), (Outcome::GaveUp, "gave_up")];
const CHANNELS: [(Channel, &str); 2] = [(Channel::Email, "email"), (Channel::Sms, "sms")];

#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// [channel][outcome]
    counts: [[AtomicU64; 3]; 2],
}

impl DeliveryStats {
    pub(crate) fn record(&self, channel: Channel, outcome: Outcome) {
        let c = CHANNELS.iter().position(|(ch, _)| *ch == channel).unwrap_or(0);
        let o = OUTCOMES.iter().position(|(out, _)| *out == outcome).unwrap_or(0);
        self.counts[c][o].fetch_add(1, Ordering::Relaxed);
    }

    /// (channel, outcome, attempts) for every pair.
    pub fn snapshot(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut out = Vec::new();
        for (c, (_, channel)) in CHANNELS.iter().enumerate() {
            for (o, (_, outcome)) in OUTCOMES.iter().enumerate() {
                out.push((*channel, *outcome, self.counts[c][o].load(Ordering::Relaxed)));
            }
        }
        out
    }
}
