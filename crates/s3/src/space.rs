//! One Space as the layers above reach it.

/// A Space: the client for its region and key, the endpoint that client speaks to, and the
/// Space's name. Everything the engine does to a Space goes through one of these.
#[derive(Clone, Debug)]
pub struct SpaceRef {
    pub client: aws_sdk_s3::Client,
    pub endpoint: String,
    pub name: String,
}

impl SpaceRef {
    pub fn new(client: &aws_sdk_s3::Client, endpoint: &str, name: &str) -> SpaceRef {
        SpaceRef {
            client: client.clone(),
            endpoint: endpoint.to_string(),
            name: name.to_string(),
        }
    }

    /// The same client and endpoint, another Space of that region.
    pub fn sibling(&self, name: &str) -> SpaceRef {
        SpaceRef {
            name: name.to_string(),
            ..self.clone()
        }
    }

    /// What S3 failures are said about.
    pub fn context(&self) -> crate::client::Context<'_> {
        crate::client::Context::space(&self.endpoint, &self.name)
    }
}
