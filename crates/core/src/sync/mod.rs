//! Sync pairs as the user sees them: set up on the Space open now, planned, approved and run
//! through the engine, which keeps the pairs and their baselines. A pair is synced through the
//! saved connection it was set up with.

use crate::connection::active::Active;
use crate::error::{Error, Result};
use crate::services::Services;
use crate::SpaceRef;

pub mod auto;

pub use spacedock_transfer::sync::{
    NewPair, PlanCounts, SyncAction, SyncDeletes, SyncDirection, SyncItem, SyncOutcome, SyncPair,
    SyncPlan, SyncSchedule, Tally,
};

/// Every pair, with when it last synced well and what went wrong last.
pub fn pairs(services: &Services) -> Result<Vec<SyncPair>> {
    services.queue().syncs().pairs()
}

/// Saves a pair of `new.folder` and a folder of `new.space` (reached through the connection
/// open now, in `region`).
pub async fn add_pair(
    services: &Services,
    new: NewPair,
    region: Option<String>,
) -> Result<SyncPair> {
    let (at, connection) = crate::files::space_ref(services, &new.space, region).await?;
    let pair = services
        .queue()
        .syncs()
        .add_pair(new, &connection, &at.endpoint)?;
    services.log().write(format!(
        "set up a sync of “{}” with “{}/{}” ({:?})",
        pair.folder, pair.space, pair.prefix, pair.direction
    ));
    Ok(pair)
}

/// Forgets a pair; its files stay on both sides.
pub fn remove_pair(services: &Services, id: &str) -> Result<()> {
    services.queue().syncs().remove_pair(id)
}

fn reach(active: &Active, pair: &SyncPair) -> Result<SpaceRef> {
    if active.profile.id != pair.connection {
        return Err(Error::InvalidInput(format!(
            "This pair syncs “{}” through another saved connection; connect with that one to sync it.",
            pair.space
        )));
    }
    let client = crate::transfer::resume::client_at(active, &pair.space, &pair.endpoint)
        .ok_or_else(|| {
            Error::Gone(format!(
                "The Space “{}” is not reached through this connection any more.",
                pair.space
            ))
        })?;
    Ok(SpaceRef::new(&client, &pair.endpoint, &pair.space))
}

/// Scans both sides of pair `id` and says what a run would do; nothing is changed.
pub async fn plan(services: &Services, id: &str) -> Result<SyncPlan> {
    let queue = services.queue();
    let pair = queue.syncs().pair(id)?;
    let active = services.active().await?;
    let at = reach(&active, &pair)?;
    queue.sync_plan(id, at).await
}

/// Runs a plan made by [`plan`]; one that waits for approval runs only `approved`.
pub async fn run(services: &Services, plan: u32, approved: bool) -> Result<SyncOutcome> {
    let done = services.queue().sync_run(plan, approved).await;
    if let Ok(o) = &done {
        services.log().write(format!(
            "synced a pair: {} up, {} down, {} deleted in the Space, {} to the trash, {} conflicts kept, {} changed since the plan, {} failed{}",
            o.uploaded,
            o.downloaded,
            o.deleted_remote,
            o.deleted_local,
            o.conflicts,
            o.changed_since,
            o.failed,
            if o.stopped { ", stopped" } else { "" }
        ));
    }
    done
}

/// Sets when a pair syncs on its own.
pub fn set_schedule(services: &Services, id: &str, schedule: SyncSchedule) -> Result<SyncPair> {
    services.queue().syncs().set_schedule(id, schedule)
}

/// Stops a pair's run.
pub fn stop(services: &Services, id: &str) {
    services.queue().syncs().stop(id);
}
