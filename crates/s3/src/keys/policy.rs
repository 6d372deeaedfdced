//! Bucket-policy statements that let a limited key's user into one Space.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};

use super::Permission;
use crate::error::{Error, Result};
use crate::s3::{map_error, Context};

/// Statements this app writes are named after the user they let in.
pub fn sid(uid: &str) -> String {
    format!("spacedock-{uid}")
}

pub fn actions(permission: Permission) -> Vec<&'static str> {
    let read = ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"];
    let write = [
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "s3:ListBucketMultipartUploads",
    ];
    match permission {
        Permission::Read => read.to_vec(),
        Permission::ReadWrite => read.iter().chain(write.iter()).copied().collect(),
        Permission::FullAccess => vec!["s3:*"],
    }
}

/// Reads back which permission a statement's actions amount to.
pub fn permission_of(actions: &[String]) -> Option<Permission> {
    let has = |a: &str| actions.iter().any(|x| x == a);
    if has("s3:*") {
        Some(Permission::FullAccess)
    } else if has("s3:PutObject") {
        Some(Permission::ReadWrite)
    } else if has("s3:GetObject") {
        Some(Permission::Read)
    } else {
        None
    }
}

pub fn statement(uid: &str, space: &str, permission: Permission) -> Value {
    json!({
        "Sid": sid(uid),
        "Effect": "Allow",
        "Principal": { "AWS": [format!("arn:aws:iam:::user/{uid}")] },
        "Action": actions(permission),
        "Resource": [format!("arn:aws:s3:::{space}"), format!("arn:aws:s3:::{space}/*")],
    })
}

fn statements(policy: &Value) -> Vec<Value> {
    match policy.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

fn is_ours(statement: &Value) -> bool {
    statement
        .get("Sid")
        .and_then(Value::as_str)
        .is_some_and(|s| s.starts_with("spacedock-"))
}

/// The Space's policy, or None when it has none.
pub async fn get(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
) -> Result<Option<Value>> {
    match client.get_bucket_policy().bucket(space).send().await {
        Ok(out) => {
            let text = out.policy().unwrap_or_default();
            Ok(Some(serde_json::from_str(text).map_err(|_| {
                Error::Server {
                    code: "MalformedPolicy".into(),
                    message: format!("the policy of “{space}” is not JSON"),
                }
            })?))
        }
        Err(e) if crate::client::code_of(&e) == Some(crate::error::S3Code::NoSuchBucketPolicy) => {
            Ok(None)
        }
        Err(e) => Err(map_error(e, Context::space(endpoint, space))),
    }
}

/// A policy is read, changed and written whole: two changes to one Space at once would each
/// write back what they read and lose the other's statement. They take turns.
async fn turn(endpoint: &str, space: &str) -> tokio::sync::OwnedMutexGuard<()> {
    static TURNS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let lock = {
        let mut all = TURNS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        all.entry(format!("{endpoint} {space}"))
            .or_default()
            .clone()
    };
    lock.lock_owned().await
}

/// Adds (or replaces) the statement letting `uid` into `space`. Refuses a Space whose policy
/// has statements of its own: limited keys and a hand-written policy can't live together.
pub async fn grant(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    uid: &str,
    permission: Permission,
) -> Result<()> {
    let _turn = turn(endpoint, space).await;
    let current = get(client, endpoint, space).await?;
    let mut list = current.as_ref().map(statements).unwrap_or_default();
    if list.iter().any(|s| !is_ours(s)) {
        return Err(Error::SpaceHasPolicy(space.to_string()));
    }
    list.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(&sid(uid)));
    list.push(statement(uid, space, permission));
    put(client, endpoint, space, list).await
}

/// Removes the statement letting `uid` into `space` (and the policy, when none is left).
pub async fn revoke(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    uid: &str,
) -> Result<()> {
    let _turn = turn(endpoint, space).await;
    let Some(current) = get(client, endpoint, space).await? else {
        return Ok(());
    };
    let mut list = statements(&current);
    let before = list.len();
    list.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(&sid(uid)));
    if list.len() == before {
        return Ok(());
    }
    put(client, endpoint, space, list).await
}

async fn put(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    list: Vec<Value>,
) -> Result<()> {
    let ctx = Context::space(endpoint, space);
    if list.is_empty() {
        client
            .delete_bucket_policy()
            .bucket(space)
            .send()
            .await
            .map_err(|e| map_error(e, ctx))?;
        return Ok(());
    }
    let policy = json!({ "Version": "2012-10-17", "Statement": list });
    client
        .put_bucket_policy()
        .bucket(space)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(|e| map_error(e, ctx))?;
    Ok(())
}

/// Which of our users each Space lets in, and how: (uid, space, permission).
pub async fn grants_in(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    spaces: &[String],
) -> Result<Vec<(String, String, Permission)>> {
    let mut found = Vec::new();
    for space in spaces {
        let Some(policy) = get(client, endpoint, space).await? else {
            continue;
        };
        for s in statements(&policy).iter().filter(|s| is_ours(s)) {
            let uid = s
                .get("Sid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim_start_matches("spacedock-")
                .to_string();
            let actions: Vec<String> = match s.get("Action") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                Some(Value::String(one)) => vec![one.clone()],
                _ => Vec::new(),
            };
            if let Some(p) = permission_of(&actions) {
                found.push((uid, space.clone(), p));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_read_back_from_their_actions() {
        for p in [
            Permission::Read,
            Permission::ReadWrite,
            Permission::FullAccess,
        ] {
            let actions: Vec<String> = actions(p).into_iter().map(String::from).collect();
            assert_eq!(permission_of(&actions), Some(p));
        }
        assert!(!actions(Permission::Read).contains(&"s3:PutObject"));
        assert!(!actions(Permission::ReadWrite)
            .iter()
            .any(|a| a.contains("Acl") || a.contains("Policy")));
    }

    #[test]
    fn a_statement_names_the_user_and_the_space_only() {
        let s = statement("sd-client-a", "a-space", Permission::Read);
        assert_eq!(s["Principal"]["AWS"][0], "arn:aws:iam:::user/sd-client-a");
        assert_eq!(
            s["Resource"],
            json!(["arn:aws:s3:::a-space", "arn:aws:s3:::a-space/*"])
        );
        assert!(is_ours(&s));
    }
}
