//! What a sync does with each file, decided from three states: what both sides held at the last
//! good sync (the baseline), the folder now, and the Space now. A side "changed" only against
//! the baseline, never by comparing two machines' clocks; two sides are "the same" only when
//! their content is proven equal (MD5). What can't be proven is never the reason a file is
//! replaced or deleted.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Which way a pair syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum SyncDirection {
    /// The folder is the source: a backup, or publishing a site.
    Up,
    /// The Space is the source: a mirror of it on this computer.
    Down,
    /// Changes on either side go to the other.
    TwoWay,
}

/// Whether a one-way pair passes deletes on (a two-way pair always does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum SyncDeletes {
    /// Never delete: a file deleted at the source stays at the destination.
    Keep,
    /// A file deleted at the source since the last sync is deleted at the destination (kept
    /// in the Space's versions or trash folder, or the desktop's trash).
    Mirror,
}

/// A file on this computer, as the folder scan saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalNow {
    pub size: u64,
    pub stamp: Stamp,
    /// Its MD5 (hex), hashed when it differs from the baseline's stamp (or read from the
    /// baseline when it does not).
    pub md5: Option<String>,
}

/// What tells a file on disk changed without reading it: size, mtime and ctime to the
/// nanosecond, inode. (A tool that sets mtime back still moves ctime.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub inode: u64,
}

/// A file in the Space, as the listing saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteNow {
    pub size: u64,
    pub etag: String,
    /// Its whole MD5 (hex), when known: a single-part ETag, the stored MD5, or a multipart ETag
    /// recomputed from the local file.
    pub md5: Option<String>,
}

/// Both sides at the last good sync: the same content (`md5` = `remote_md5`), or, after a
/// one-way pair kept both copies of a conflict, each side's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Base {
    pub local: Stamp,
    /// The local file's MD5.
    pub md5: String,
    pub remote_size: u64,
    pub etag: String,
    /// The Space's file's MD5 ("" when it could not be proven).
    pub remote_md5: String,
}

impl Base {
    /// The two sides held different files at the last sync (a one-way conflict kept both).
    pub fn diverged(&self) -> bool {
        !self.md5.eq_ignore_ascii_case(&self.remote_md5)
    }
}

/// How one side stands against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Not there, and not in the baseline.
    Absent,
    /// There, and not in the baseline.
    New,
    /// As at the last sync (its content, if its stamp or ETag moved).
    Same,
    Changed,
    /// In the baseline, not there now.
    Gone,
}

/// Whether two contents are proven equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Equal,
    Differ,
    Unproven,
}

/// What one file's sync does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Nothing to do.
    Nothing,
    /// Both sides hold the same content: only the baseline is written.
    Record,
    /// Both sides are gone: the baseline forgets it.
    Forget,
    /// The file goes up, creating the key (None) or replacing exactly this ETag.
    Upload { replace: Option<String> },
    /// The file comes down, creating the path (None) or replacing exactly the file with this stamp.
    Download { replace: Option<Stamp> },
    /// The key is deleted if it still has this ETag.
    DeleteRemote { etag: String },
    /// The file goes to the desktop's trash if it still has this stamp.
    DeleteLocal { stamp: Stamp },
    /// Changed on both sides and not the same: both copies are kept.
    Conflict { local: Stamp, etag: String },
    /// Both sides have it, differing from the baseline, but whether they are equal can't be
    /// proven: nothing is replaced.
    Unverified,
    /// Left as it is, and why (a one-way pair never undoes what changed at its destination).
    Kept(&'static str),
}

impl Act {
    pub fn is_delete(&self) -> bool {
        matches!(self, Act::DeleteRemote { .. } | Act::DeleteLocal { .. })
    }
}

pub fn local_side(base: Option<&Base>, now: Option<&LocalNow>) -> Side {
    match (base, now) {
        (None, None) => Side::Absent,
        (None, Some(_)) => Side::New,
        (Some(_), None) => Side::Gone,
        (Some(b), Some(n)) if b.local == n.stamp => Side::Same,
        (Some(b), Some(n)) if n.md5.as_deref() == Some(b.md5.as_str()) => Side::Same,
        (Some(_), Some(_)) => Side::Changed,
    }
}

pub fn remote_side(base: Option<&Base>, now: Option<&RemoteNow>) -> Side {
    match (base, now) {
        (None, None) => Side::Absent,
        (None, Some(_)) => Side::New,
        (Some(_), None) => Side::Gone,
        (Some(b), Some(n)) if same_etag(&b.etag, &n.etag) => Side::Same,
        (Some(b), Some(n))
            if !b.remote_md5.is_empty() && n.md5.as_deref() == Some(b.remote_md5.as_str()) =>
        {
            Side::Same
        }
        (Some(_), Some(_)) => Side::Changed,
    }
}

fn same_etag(a: &str, b: &str) -> bool {
    crate::integrity::bare(a).eq_ignore_ascii_case(crate::integrity::bare(b))
}

pub fn proof(local: Option<&LocalNow>, remote: Option<&RemoteNow>) -> Proof {
    match (
        local.and_then(|l| l.md5.as_deref()),
        remote.and_then(|r| r.md5.as_deref()),
    ) {
        (Some(l), Some(r)) if l.eq_ignore_ascii_case(r) => Proof::Equal,
        (Some(_), Some(_)) => Proof::Differ,
        _ => Proof::Unproven,
    }
}

/// The one action for a key.
pub fn decide(
    direction: SyncDirection,
    deletes: SyncDeletes,
    base: Option<&Base>,
    local: Option<&LocalNow>,
    remote: Option<&RemoteNow>,
) -> Act {
    use Side::*;
    let (l, r) = (local_side(base, local), remote_side(base, remote));
    let stamp = || local.map(|l| l.stamp).unwrap_or_default();
    let etag = || remote.map(|r| r.etag.clone()).unwrap_or_default();
    let upload = || Act::Upload {
        replace: remote.map(|r| r.etag.clone()),
    };
    let download = || Act::Download {
        replace: local.map(|l| l.stamp),
    };
    // Both sides there and both moved (or new on both): equal, unproven, or a conflict.
    let both = || match proof(local, remote) {
        Proof::Equal => Act::Record,
        Proof::Unproven => Act::Unverified,
        Proof::Differ => Act::Conflict {
            local: stamp(),
            etag: etag(),
        },
    };
    let mirror = deletes == SyncDeletes::Mirror || direction == SyncDirection::TwoWay;
    // Since a one-way conflict the destination holds another file than the source: it is never
    // replaced or deleted; each new version of the source goes beside it.
    let diverged = base.is_some_and(Base::diverged);
    let apart = || Act::Kept("differs from the other side since a conflict kept both; not deleted");
    match (l, r) {
        (Absent, Absent) | (Same, Same) => Act::Nothing,
        (Gone, Gone) => Act::Forget,
        // Only a touch or a rewrite of the same bytes on one side: the baseline catches up.
        (New | Changed, New | Changed) => both(),
        _ => match direction {
            SyncDirection::TwoWay => match (l, r) {
                (New, Absent) | (Changed, Same) | (Changed, Gone) => upload(),
                (Absent, New) | (Same, Changed) | (Gone, Changed) => download(),
                (Gone, Same) => Act::DeleteRemote { etag: etag() },
                (Same, Gone) => Act::DeleteLocal { stamp: stamp() },
                _ => Act::Nothing,
            },
            SyncDirection::Up => match (l, r) {
                (Changed, Same) if diverged && proof(local, remote) == Proof::Equal => Act::Record,
                (Changed, Same) if diverged => Act::Conflict { local: stamp(), etag: etag() },
                (Gone, Same) if diverged => apart(),
                (New, Absent) | (Changed, Same) | (Changed, Gone) | (Same, Gone) => upload(),
                (Gone, Same) if mirror => Act::DeleteRemote { etag: etag() },
                (Gone, Same) => Act::Kept("deleted in the folder; this pair never deletes"),
                (Gone, Changed) => Act::Kept("deleted in the folder, but changed in the Space since the last sync"),
                (Same, Changed) => Act::Kept("changed in the Space; a folder → Space pair never replaces what changed there"),
                (Absent, New) => Act::Nothing,
                _ => Act::Nothing,
            },
            SyncDirection::Down => match (l, r) {
                (Same, Changed) if diverged && proof(local, remote) == Proof::Equal => Act::Record,
                (Same, Changed) if diverged => Act::Conflict { local: stamp(), etag: etag() },
                (Same, Gone) if diverged => apart(),
                (Absent, New) | (Same, Changed) | (Gone, Changed) | (Gone, Same) => download(),
                (Same, Gone) if mirror => Act::DeleteLocal { stamp: stamp() },
                (Same, Gone) => Act::Kept("deleted in the Space; this pair never deletes"),
                (Changed, Gone) => Act::Kept("deleted in the Space, but changed in the folder since the last sync"),
                (Changed, Same) => Act::Kept("changed in the folder; a Space → folder pair never replaces what changed there"),
                (New, Absent) => Act::Nothing,
                _ => Act::Nothing,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(n: i64) -> Stamp {
        Stamp {
            size: 3,
            mtime_ns: n,
            ctime_ns: n,
            inode: 7,
        }
    }
    fn local(n: i64, md5: &str) -> LocalNow {
        LocalNow {
            size: 3,
            stamp: st(n),
            md5: Some(md5.into()),
        }
    }
    fn remote(etag: &str, md5: Option<&str>) -> RemoteNow {
        RemoteNow {
            size: 3,
            etag: etag.into(),
            md5: md5.map(Into::into),
        }
    }
    fn base() -> Base {
        Base {
            local: st(1),
            md5: "aa".into(),
            remote_size: 3,
            etag: "aa".into(),
            remote_md5: "aa".into(),
        }
    }
    use SyncDeletes::*;
    use SyncDirection::*;

    #[test]
    fn a_same_size_edit_on_either_side_is_a_change() {
        let b = base();
        // Same size, new mtime, new bytes: goes up.
        let act = decide(
            TwoWay,
            Mirror,
            Some(&b),
            Some(&local(2, "bb")),
            Some(&remote("aa", Some("aa"))),
        );
        assert_eq!(
            act,
            Act::Upload {
                replace: Some("aa".into())
            }
        );
        // Same size, new ETag on the server: comes down, over exactly the file seen.
        let act = decide(
            Down,
            Keep,
            Some(&b),
            Some(&local(1, "aa")),
            Some(&remote("cc", Some("cc"))),
        );
        assert_eq!(
            act,
            Act::Download {
                replace: Some(st(1))
            }
        );
    }

    #[test]
    fn a_touch_or_a_rewrite_of_the_same_bytes_is_no_change() {
        let b = base();
        let act = decide(
            TwoWay,
            Mirror,
            Some(&b),
            Some(&local(9, "aa")),
            Some(&remote("aa-1", Some("aa"))),
        );
        assert_eq!(act, Act::Nothing);
    }

    #[test]
    fn changed_on_both_sides_is_a_conflict_unless_proven_equal() {
        let b = base();
        let l = local(2, "bb");
        assert!(matches!(
            decide(
                TwoWay,
                Mirror,
                Some(&b),
                Some(&l),
                Some(&remote("cc", Some("cc")))
            ),
            Act::Conflict { .. }
        ));
        assert_eq!(
            decide(
                TwoWay,
                Mirror,
                Some(&b),
                Some(&l),
                Some(&remote("bb", Some("bb")))
            ),
            Act::Record
        );
        // A multipart ETag with no stored MD5: never replaced on a guess.
        assert_eq!(
            decide(Up, Mirror, Some(&b), Some(&l), Some(&remote("ff-2", None))),
            Act::Unverified
        );
        // New on both sides with no baseline: the same rules.
        assert!(matches!(
            decide(Up, Mirror, None, Some(&l), Some(&remote("cc", Some("cc")))),
            Act::Conflict { .. }
        ));
    }

    #[test]
    fn deletes_pass_only_from_an_unchanged_other_side_and_only_when_asked() {
        let b = base();
        let same = remote("aa", Some("aa"));
        assert_eq!(
            decide(Up, Mirror, Some(&b), None, Some(&same)),
            Act::DeleteRemote { etag: "aa".into() }
        );
        assert!(matches!(
            decide(Up, Keep, Some(&b), None, Some(&same)),
            Act::Kept(_)
        ));
        // Changed in the Space since: never deleted.
        assert!(matches!(
            decide(Up, Mirror, Some(&b), None, Some(&remote("cc", Some("cc")))),
            Act::Kept(_)
        ));
        assert!(matches!(
            decide(
                TwoWay,
                Mirror,
                Some(&b),
                None,
                Some(&remote("cc", Some("cc")))
            ),
            Act::Download { .. }
        ));
        // With no baseline nothing is ever deleted: a file only at the destination stays.
        assert_eq!(decide(Up, Mirror, None, None, Some(&same)), Act::Nothing);
        assert_eq!(
            decide(Down, Mirror, None, Some(&local(1, "aa")), None),
            Act::Nothing
        );
        assert_eq!(
            decide(Down, Mirror, Some(&b), Some(&local(1, "aa")), None),
            Act::DeleteLocal { stamp: st(1) }
        );
    }
}
