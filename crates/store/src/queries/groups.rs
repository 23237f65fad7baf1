//! Group commits. Every write of a kind queued while the previous group was being written goes
//! into the next one transaction, with one statement per step for the whole group rather than one
//! per write; each caller is answered after that commit, with its own outcome. On SQLite this is
//! what lets many writers share the one writer connection without each paying for a transaction
//! and the hand-offs to it. A group that fails as a whole is retried one write at a time, so one
//! bad write fails alone.

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use castellan_core::store::{StoreError, StoreResult};

use crate::Pool;

/// Writes per group: past this the statements get long for little gain.
const MAX_GROUP: usize = 64;

/// What the statements run on (the writer connection on SQLite).
pub(crate) struct Writer {
    pub(crate) pool: Pool,
}

/// One kind of write that can be committed in groups.
#[async_trait]
pub(crate) trait GroupWrite: Send + Sync + 'static {
    type Job: Send + Sync + 'static;
    type Outcome: Send + 'static;
    /// What the queue's error names when the store is gone.
    const WHAT: &'static str;
    /// One transaction for the whole group; each job's outcome, in order.
    async fn write(&self, writer: &Writer, group: &[Self::Job]) -> StoreResult<Vec<Self::Outcome>>;
}

type Queued<W> = (<W as GroupWrite>::Job, oneshot::Sender<StoreResult<<W as GroupWrite>::Outcome>>);

/// The queue of one kind of write and the task that commits it; the task ends with the store.
pub(crate) struct GroupCommit<W: GroupWrite> {
    queue: mpsc::UnboundedSender<Queued<W>>,
}

impl<W: GroupWrite> GroupCommit<W> {
    pub(crate) fn start(pool: Pool, kind: W) -> GroupCommit<W> {
        let (queue, jobs) = mpsc::unbounded_channel();
        tokio::spawn(write_groups(kind, Writer { pool }, jobs));
        GroupCommit { queue }
    }

    /// The job's outcome, once the group it went into is committed.
    pub(crate) async fn submit(&self, job: W::Job) -> StoreResult<W::Outcome> {
        let (answer, answered) = oneshot::channel();
        let closed = || StoreError::message(format!("the store closed during {}", W::WHAT));
        self.queue.send((job, answer)).map_err(|_| closed())?;
        answered.await.map_err(|_| closed())?
    }
}

async fn write_groups<W: GroupWrite>(kind: W, writer: Writer, mut jobs: mpsc::UnboundedReceiver<Queued<W>>) {
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let (group, answers): (Vec<W::Job>, Vec<_>) = group.into_iter().unzip();
        match kind.write(&writer, &group).await {
            Ok(outcomes) => {
                for (answer, outcome) in answers.into_iter().zip(outcomes) {
                    let _ = answer.send(Ok(outcome));
                }
            }
            Err(e) if group.len() == 1 => {
                if let Some(answer) = answers.into_iter().next() {
                    let _ = answer.send(Err(e));
                }
            }
            Err(_) => {
                for (job, answer) in group.iter().zip(answers) {
                    let outcome = kind
                        .write(&writer, std::slice::from_ref(job))
                        .await
                        .and_then(|mut o| o.pop().ok_or_else(|| StoreError::message(format!("no outcome for {}", W::WHAT))));
                    let _ = answer.send(outcome);
                }
            }
        }
    }
}
