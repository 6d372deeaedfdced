//! Removing files only if they are still the version planned: the one door for every delete
//! the engine makes (a folder delete, a move's originals). A folder's files are looked at by
//! listing it a page at a time, then deleted up to a thousand in one request; files chosen one
//! by one are each looked at right before they go. Each request also names the planned ETags,
//! for servers that check them.

use std::collections::{BTreeMap, HashMap};

use futures_util::StreamExt as _;

use crate::error::{Error, Result, S3Code};
use crate::integrity;
use spacedock_s3::client::{map_error, Context};
use spacedock_s3::listing;
use spacedock_s3::objects::{delete_each, Refused};
use spacedock_s3::SpaceRef;

/// A file to remove: its id in the batch, its key, and the ETag planned (None: as it is).
pub type Planned = (u32, String, Option<String>);

/// Whether to stop before the next request.
pub type Stop<'a> = dyn Fn() -> bool + Send + Sync + 'a;

/// What each file's removal came to, with its id and key.
pub type Report<'a> = &'a mut (dyn FnMut(Vec<(u32, String, Removed)>) + Send);

/// What became of one file.
pub enum Removed {
    Deleted,
    /// Not there any more: nothing to delete.
    Gone,
    /// Changed since the plan: kept.
    Changed,
    /// Refused by the server (e.g. a policy): kept, with why.
    Refused(String),
}

/// Files that go in one request of a delete (S3 takes at most 1,000).
pub const PER_REQUEST: usize = 1000;

/// A file's ETag now: None if it is not there, Some(None) if the server gave none.
pub async fn look(at: &SpaceRef, key: &str) -> Result<Option<Option<String>>> {
    let target = crate::Target::plain(&at.client, &at.endpoint, &at.name);
    let now = crate::etag_now(&target, key).await?;
    Ok(now.map(|etag| Some(etag).filter(|e| !e.is_empty())))
}

/// Whether a file is the version planned (a file planned with no ETag is taken as it is).
pub fn same(planned: Option<&str>, now: Option<&str>) -> bool {
    match (planned, now) {
        (None, _) => true,
        (Some(p), Some(n)) => integrity::bare(p) == integrity::bare(n),
        (Some(_), None) => false,
    }
}

/// A folder's files: the folder is listed a page at a time from where the last page ended, and
/// each page's planned files that are still their planned version go in one request. Listing
/// stops past the last planned file; planned files it did not list are looked at one by one.
pub async fn remove_listed(
    at: &SpaceRef,
    folder: &str,
    group: Vec<Planned>,
    stop: &Stop<'_>,
    report: Report<'_>,
) -> Result<()> {
    let ctx = Context::space(&at.endpoint, &at.name);
    let mut planned: BTreeMap<String, (u32, Option<String>)> = (group.into_iter())
        .map(|(i, key, etag)| (key, (i, etag)))
        .collect();
    // The listing starts just before the first file planned, not at the top of the folder: a
    // few files at the end of a big folder cost a page, not the whole folder.
    let mut after: Option<String> = planned.keys().next().and_then(|first| {
        let (last, _) = first.char_indices().next_back()?;
        Some(&first[..last])
            .filter(|a| a.len() > folder.len())
            .map(String::from)
    });
    // Files far apart in a big folder would have it listed between them: past a few pages per
    // thousand planned, the rest are looked at one by one instead.
    let mut pages_left = planned.len().div_ceil(PER_REQUEST) * 3 + 2;
    loop {
        let Some(last_planned) = planned.keys().next_back().cloned() else {
            return Ok(());
        };
        if pages_left == 0 {
            break;
        }
        pages_left -= 1;
        if stop() {
            return Ok(());
        }
        if after.as_deref().is_some_and(|a| a >= last_planned.as_str()) {
            break;
        }
        let (page, more) =
            listing::page_after(&at.client, ctx, &at.name, folder, after.as_deref()).await?;
        let (mut go, mut changed) = (Vec::new(), Vec::new());
        for o in &page {
            // `page_after` refuses a page with an object that has no key.
            let key = o.key().unwrap_or_default();
            let Some((file, etag)) = planned.remove(key) else {
                // Not planned (it came since): left as it is.
                continue;
            };
            match same(etag.as_deref(), o.e_tag()) {
                true => go.push((file, key.to_string(), etag)),
                false => changed.push((file, key.to_string(), Removed::Changed)),
            }
        }
        report(changed);
        for chunk in go.chunks(PER_REQUEST) {
            if stop() {
                return Ok(());
            }
            report(remove_some(at, ctx, chunk).await?);
        }
        after = page.last().and_then(|o| o.key()).map(str::to_string);
        if !more {
            break;
        }
    }
    // Planned, and not listed (gone already, or listed under another form of its name): each
    // is looked at before it is called gone.
    let rest = (planned.into_iter()).map(|(key, (file, etag))| (file, key, etag));
    remove_looked(at, rest.collect(), stop, report).await
}

/// One request deleting up to 1,000 files, each with its planned ETag (servers that honour
/// that check it too); each file's own answer: deleted, or refused with why.
async fn remove_some(
    at: &SpaceRef,
    ctx: Context<'_>,
    files: &[(u32, String, Option<String>)],
) -> Result<Vec<(u32, String, Removed)>> {
    let objects = (files.iter())
        .map(|(_, key, etag)| {
            aws_sdk_s3::types::ObjectIdentifier::builder()
                .key(key)
                .set_e_tag(etag.clone())
                .build()
                .map_err(|e| Error::InvalidInput(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let refused: HashMap<String, Refused> = (delete_each(&at.client, &at.name, ctx, objects)
        .await?)
        .into_iter()
        .map(|r| (r.key.clone(), r))
        .collect();
    Ok((files.iter())
        .map(|(file, key, _)| {
            let outcome = match refused.get(key) {
                None => Removed::Deleted,
                Some(r) if r.code == S3Code::PreconditionFailed => Removed::Changed,
                Some(r) if r.message.is_empty() => Removed::Refused("refused".into()),
                Some(r) => Removed::Refused(r.message.clone()),
            };
            (*file, key.clone(), outcome)
        })
        .collect())
}

/// Files chosen one by one: each looked at right before it goes (and sent with `If-Match`,
/// which servers that honour it check too).
pub async fn remove_looked(
    at: &SpaceRef,
    group: Vec<Planned>,
    stop: &Stop<'_>,
    report: Report<'_>,
) -> Result<()> {
    let ctx = Context::space(&at.endpoint, &at.name);
    // After an error no more are started; those on their way still say how they ended.
    let broke = std::sync::atomic::AtomicBool::new(false);
    let broke = &broke;
    let one = |(file, key, etag): (u32, String, Option<String>)| async move {
        if stop() || broke.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(None);
        }
        let Some(now) = look(at, &key).await? else {
            return Ok(Some((file, key, Removed::Gone)));
        };
        if !same(etag.as_deref(), now.as_deref()) {
            return Ok(Some((file, key, Removed::Changed)));
        }
        let delete = (at.client.delete_object().bucket(&at.name).key(&key)).set_if_match(
            etag.as_deref()
                .map(|e| format!("\"{}\"", integrity::bare(e))),
        );
        match delete.send().await.map_err(|e| map_error(e, ctx)) {
            Ok(_) => Ok(Some((file, key, Removed::Deleted))),
            Err(Error::Server {
                code: S3Code::PreconditionFailed,
                ..
            }) => Ok(Some((file, key, Removed::Changed))),
            // The server's answer for this file alone (a policy, say): it stays, with why.
            Err(e @ (Error::AccessDenied(_) | Error::Server { .. })) => {
                Ok(Some((file, key, Removed::Refused(e.to_string()))))
            }
            Err(e) => Err(e),
        }
    };
    let mut results = futures_util::stream::iter(group.into_iter().map(one)).buffer_unordered(32);
    let mut first_error = None;
    while let Some(result) = results.next().await {
        match result {
            Ok(Some(ended)) => report(vec![ended]),
            Ok(None) => {}
            Err(e) => {
                broke.store(true, std::sync::atomic::Ordering::SeqCst);
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
