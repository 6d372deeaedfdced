//! What a server lists below a prefix, through one door. A listing is the server's word, and a
//! hostile or broken server may list keys outside the folder asked for (a gateway that ignores
//! `prefix` lists the whole Space), or hand back a place it already gave: every consumer that
//! acts on a listing (browse, search, download, copy, move, folder delete, versions) reads it
//! here, so each gets the same refusals.

use std::collections::HashSet;

use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
use aws_sdk_s3::types::{CommonPrefix, Object};

use crate::error::{Error, Result};
use crate::s3::{map_error, Context};

/// One page of a listing, every key in it checked to be below the prefix.
pub struct Page<'a> {
    pub objects: &'a [Object],
    /// Folders just below the prefix (only with a delimiter).
    pub folders: &'a [CommonPrefix],
    /// The last page of the listing.
    pub last: bool,
}

/// A key the server listed that is not below the prefix asked for: the listing is refused whole.
fn outside(prefix: &str, key: &str) -> Error {
    let asked = match prefix {
        "" => "the whole Space".to_string(),
        p => format!("what is below “{p}”"),
    };
    Error::BadAnswer(format!(
        "asked for {asked}, it listed “{key}”; nothing was done with that listing"
    ))
}

/// Whether `key` is below `prefix` (a folder's key itself counts, as its marker).
pub fn is_below(key: &str, prefix: &str) -> bool {
    key.starts_with(prefix)
}

/// Lists every key below `prefix` (with `delimiter`, only one level down), calling `page` with
/// each page until the end or until `page` returns false. Returns whether it reached the end.
///
/// Refused, whole (so nothing is acted on): a key or folder outside `prefix`, a continuation
/// token the server gave before (a loop), and a page that says there is more without saying
/// where (an end that can't be trusted).
pub async fn each_page(
    client: &aws_sdk_s3::Client,
    ctx: Context<'_>,
    space: &str,
    prefix: &str,
    delimiter: Option<&str>,
    page_size: Option<i32>,
    mut page: impl FnMut(Page<'_>) -> bool,
) -> Result<bool> {
    let mut token: Option<String> = None;
    let mut seen = HashSet::new();
    let mut order = InOrder::default();
    loop {
        let out = client
            .list_objects_v2()
            .bucket(space)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_string))
            .set_max_keys(page_size)
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| map_error(e, ctx))?;
        if let Some(k) =
            (out.contents().iter().filter_map(|o| o.key())).find(|k| !is_below(k, prefix))
        {
            return Err(outside(prefix, k));
        }
        let folders = out.common_prefixes().iter().filter_map(|p| p.prefix());
        if let Some(f) = folders
            .clone()
            .find(|f| !is_below(f, prefix) || f.len() <= prefix.len())
        {
            return Err(outside(prefix, f));
        }
        let names = (out.contents().iter().filter_map(|o| o.key()))
            .chain(out.common_prefixes().iter().filter_map(|p| p.prefix()));
        order.page(names)?;
        let last = out.is_truncated() != Some(true);
        let listed = Page {
            objects: out.contents(),
            folders: out.common_prefixes(),
            last,
        };
        if !page(listed) {
            return Ok(false);
        }
        if last {
            return Ok(true);
        }
        token = Some(next_place(
            out.next_continuation_token().map(str::to_string),
            &mut seen,
            "continuation token",
        )?);
    }
}

/// Pages of a listing go forward: S3 lists in key order, so a page that starts before where the
/// last one ended, or a long run of pages that get no further (empty, or the same name again), is
/// a server listing in a circle. (A name may stand at the end of one page and the start of the
/// next: one key's versions go on over pages, and a gateway may give a folder twice.)
#[derive(Default)]
pub struct InOrder {
    last: Option<String>,
    stalled: u32,
}

/// Pages in a row that get no further, taken for a listing that does not move on.
const MOST_STALLED_PAGES: u32 = 100;

impl InOrder {
    pub fn page<'a>(&mut self, names: impl Iterator<Item = &'a str>) -> Result<()> {
        let (mut first, mut most): (Option<&str>, Option<&str>) = (None, None);
        for name in names {
            first = Some(first.map_or(name, |f| f.min(name)));
            most = Some(most.map_or(name, |m| m.max(name)));
        }
        let last = self.last.as_deref();
        if matches!((first, last), (Some(first), Some(last)) if first < last) {
            return Err(Error::BadAnswer(
                "it listed again what it had listed before, which would list for ever".into(),
            ));
        }
        match most {
            Some(most) if last.is_none_or(|last| most > last) => {
                self.last = Some(most.to_string());
                self.stalled = 0;
            }
            _ => {
                self.stalled += 1;
                if self.stalled > MOST_STALLED_PAGES {
                    return Err(Error::BadAnswer(
                        "it gave page after page that got no further, which would list for ever"
                            .into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The place the next page starts, refused when missing or given before.
pub fn next_place<T: Clone + Eq + std::hash::Hash>(
    next: Option<T>,
    seen: &mut HashSet<T>,
    what: &str,
) -> Result<T> {
    let next = next.ok_or_else(|| {
        Error::BadAnswer(format!(
            "it said the listing goes on but gave no {what}; the part listed can't be taken for the whole"
        ))
    })?;
    if !seen.insert(next.clone()) {
        return Err(Error::BadAnswer(format!(
            "it gave a {what} it had given before, which would list for ever"
        )));
    }
    Ok(next)
}

/// The part number a listing of an upload's parts goes on from: a number, past the last one (parts
/// are listed in order, and an upload has at most 10,000), or the listing is refused.
pub fn next_part(next: Option<&str>, last: Option<i32>) -> Result<i32> {
    let n = next.and_then(|n| n.parse::<i32>().ok()).ok_or_else(|| {
        Error::BadAnswer("it said the parts go on but gave no part to go on from".into())
    })?;
    if last.is_some_and(|last| n <= last) || !(1..=10_000).contains(&n) {
        return Err(Error::BadAnswer(format!(
            "it gave part {n} to go on from, which would list the parts for ever"
        )));
    }
    Ok(n)
}

/// One page of the keys below `prefix` that come after `after` (all of them without it), and
/// whether there are more. Refused, whole: a key outside `prefix`, one not after `after`, or keys
/// out of order: a lying page would have the caller act on keys it never asked about.
pub async fn page_after(
    client: &aws_sdk_s3::Client,
    ctx: Context<'_>,
    space: &str,
    prefix: &str,
    after: Option<&str>,
) -> Result<(Vec<Object>, bool)> {
    let out = client
        .list_objects_v2()
        .bucket(space)
        .prefix(prefix)
        .set_start_after(after.map(str::to_string))
        .send()
        .await
        .map_err(|e| map_error(e, ctx))?;
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    if keys.len() != out.contents().len() {
        return Err(Error::BadAnswer("it listed a file without a name".into()));
    }
    if let Some(k) = keys.iter().find(|k| !is_below(k, prefix)) {
        return Err(outside(prefix, k));
    }
    let in_order = keys.windows(2).all(|w| w[0] < w[1]);
    if !in_order || after.is_some_and(|a| keys.first().is_some_and(|k| *k <= a)) {
        return Err(Error::BadAnswer(
            "it listed again what it had listed before, which would list for ever".into(),
        ));
    }
    let more = out.is_truncated() == Some(true);
    if more && keys.is_empty() {
        return Err(Error::BadAnswer(
            "it said there was more but listed nothing, which would list for ever".into(),
        ));
    }
    Ok((out.contents().to_vec(), more))
}

/// Every key (and only the keys) below `prefix`, gathered.
pub async fn keys_below(
    client: &aws_sdk_s3::Client,
    ctx: Context<'_>,
    space: &str,
    prefix: &str,
) -> Result<Vec<Object>> {
    let mut all = Vec::new();
    each_page(client, ctx, space, prefix, None, None, |p| {
        all.extend_from_slice(p.objects);
        true
    })
    .await?;
    Ok(all)
}

/// Lists the versions and delete markers below `prefix` (with `delimiter`, one level down), page
/// by page, until the end or until `page` returns false; the same refusals as [`each_page`], with
/// the pair of markers as the place.
pub async fn each_version_page(
    client: &aws_sdk_s3::Client,
    ctx: Context<'_>,
    space: &str,
    prefix: &str,
    delimiter: Option<&str>,
    mut page: impl FnMut(&ListObjectVersionsOutput) -> bool,
) -> Result<bool> {
    let mut markers: (Option<String>, Option<String>) = (None, None);
    let mut seen = HashSet::new();
    let mut order = InOrder::default();
    loop {
        let out = client
            .list_object_versions()
            .bucket(space)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_string))
            .set_key_marker(markers.0.clone())
            .set_version_id_marker(markers.1.clone())
            .send()
            .await
            .map_err(|e| map_error(e, ctx))?;
        let keys = (out.versions().iter().filter_map(|v| v.key()))
            .chain(out.delete_markers().iter().filter_map(|m| m.key()));
        if let Some(k) = keys.clone().find(|k| !is_below(k, prefix)) {
            return Err(outside(prefix, k));
        }
        // One key's versions may go on over pages: the keys must not go back.
        order.page(keys)?;
        if !page(&out) {
            return Ok(false);
        }
        if out.is_truncated() != Some(true) {
            return Ok(true);
        }
        let next = out.next_key_marker().map(|k| {
            (
                Some(k.to_string()),
                out.next_version_id_marker().map(str::to_string),
            )
        });
        markers = next_place(next, &mut seen, "place to go on from")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_go_forward() {
        let mut order = InOrder::default();
        assert!(order.page(["a", "c", "b"].into_iter()).is_ok());
        assert!(
            order.page(["c", "d"].into_iter()).is_ok(),
            "c's versions go on"
        );
        assert!(order.page(["a", "e"].into_iter()).is_err(), "back to a");
        let mut stalled = InOrder::default();
        assert!(stalled.page(["k"].into_iter()).is_ok());
        for _ in 0..MOST_STALLED_PAGES {
            assert!(stalled.page(["k"].into_iter()).is_ok());
        }
        assert!(
            stalled.page(std::iter::empty()).is_err(),
            "no further for too long"
        );
    }

    #[test]
    fn a_place_given_twice_is_refused_even_after_another() {
        let mut seen = HashSet::new();
        assert_eq!(next_place(Some("a"), &mut seen, "token").ok(), Some("a"));
        assert_eq!(next_place(Some("b"), &mut seen, "token").ok(), Some("b"));
        let again = next_place(Some("a"), &mut seen, "token").expect_err("a cycle");
        assert_eq!(again.kind(), crate::error::ErrorKind::BadAnswer);
        let none = next_place(None::<&str>, &mut seen, "token").expect_err("no place");
        assert_eq!(none.kind(), crate::error::ErrorKind::BadAnswer);
    }
}
