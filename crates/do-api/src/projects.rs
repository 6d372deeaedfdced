//! DigitalOcean's projects (`/v2/projects`): the Control Panel's create page puts a new Space in
//! the project chosen there, and so does the create wizard here.

use serde::Serialize;
use serde_json::{json, Value};
use ts_rs::TS;

use crate::{About, DoApi};
use spacedock_common::error::{Error, Result};
use spacedock_common::http::encode;

const ABOUT: About = About {
    denied:
        "This API token may not read or change projects: give it the project scopes (read, update).",
    missing:
        "DigitalOcean has no such project (it may have been deleted meanwhile). Choose another.",
};

/// A project of the account, for the create wizard's picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Project {
    pub id: String,
    pub name: String,
    /// Where a resource goes when no project is named.
    pub is_default: bool,
}

/// The name DigitalOcean gives a Space among a project's resources.
pub fn space_urn(space: &str) -> String {
    format!("do:space:{space}")
}

impl DoApi {
    /// Every project of the account, the default one first, then by name.
    pub async fn projects(&self) -> Result<Vec<Project>> {
        let all = self
            .list_all("/v2/projects", "projects", Some(&ABOUT))
            .await?;
        let mut projects: Vec<Project> = all
            .iter()
            .filter_map(|p| {
                Some(Project {
                    id: p.get("id")?.as_str()?.to_string(),
                    name: p.get("name")?.as_str()?.to_string(),
                    is_default: p.get("is_default").and_then(Value::as_bool) == Some(true),
                })
            })
            .collect();
        projects.sort_by_key(|p| (!p.is_default, p.name.to_lowercase()));
        Ok(projects)
    }

    /// Puts the Space `space` in the project `project_id`; an answer that does not say it was
    /// assigned is an error.
    pub async fn assign_space(&self, project_id: &str, space: &str) -> Result<()> {
        if project_id.is_empty() || matches!(project_id, "." | "..") {
            return Err(Error::InvalidInput(format!(
                "“{project_id}” is not a project."
            )));
        }
        let urn = space_urn(space);
        let url = format!("{}/v2/projects/{}/resources", self.base, encode(project_id));
        let answer = self
            .call_about(
                reqwest::Method::POST,
                &url,
                Some(json!({ "resources": [urn] })),
                &ABOUT,
            )
            .await?;
        let assigned = answer
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|r| {
                r.get("urn").and_then(Value::as_str) == Some(urn.as_str())
                    && r.get("status").and_then(Value::as_str).unwrap_or("ok") == "ok"
            });
        if !assigned {
            return Err(Error::BadAnswer(format!(
                "DigitalOcean did not say that {urn} was assigned"
            )));
        }
        Ok(())
    }
}
