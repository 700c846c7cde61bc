//! [`Cluster`] over kube-rs: a real cluster, or slipway-kubesim over HTTP.
//!
//! Objects slipway owns are server-side applied with field manager [`FIELD_MANAGER`] (forcing
//! conflicts: slipway owns what it applies); the user's objects get JSON merge patches under the same
//! field manager; waiting is a watch from the resourceVersion last seen, bounded by a timeout.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt as _;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use super::{Cluster, FIELD_MANAGER, Kind};

/// The boxed cause of an [`Error`] (kube's own error, not part of this API).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// An error talking to the cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The kubeconfig could not be read or used.
    #[error("reading kubeconfig {path}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: Cause,
    },
    /// The client could not be set up (runtime, TLS).
    #[error("setting up the Kubernetes client")]
    Client {
        /// Why.
        #[source]
        source: Cause,
    },
    /// A request failed.
    #[error("{verb} {kind} {namespace}/{name}")]
    Request {
        /// `get`, `list`, `apply`, `patch` or `watch`.
        verb: &'static str,
        /// The kind.
        kind: &'static str,
        /// The namespace.
        namespace: String,
        /// The object's name (empty for lists and watches).
        name: String,
        /// Why.
        #[source]
        source: Cause,
    },
    /// An object to apply has no `metadata.name`.
    #[error("{kind} to apply has no metadata.name")]
    Unnamed {
        /// The kind.
        kind: String,
    },
}

/// A namespace of a cluster reached through kube-rs. Owns a small tokio runtime, so its methods block.
pub struct Kube {
    client: kube::Client,
    namespace: String,
    /// The API server's host, when known (from the kubeconfig).
    host: Option<String>,
    /// The API server's URL, when known.
    url: Option<String>,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Kube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kube")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Client {
            source: Box::new(e),
        })
}

impl Kube {
    /// Connects with a kubeconfig file's current context, to `namespace`.
    ///
    /// # Errors
    /// [`Error::Kubeconfig`], [`Error::Client`].
    pub fn from_kubeconfig(path: &Path, namespace: &str) -> Result<Kube, Error> {
        let runtime = runtime()?;
        let display = path.display().to_string();
        let kubeconfig = Kubeconfig::read_from(path).map_err(|e| Error::Kubeconfig {
            path: display.clone(),
            source: Box::new(e),
        })?;
        let (client, host, url) = runtime.block_on(async {
            let config =
                kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| Error::Kubeconfig {
                        path: display.clone(),
                        source: Box::new(e),
                    })?;
            let host = config.cluster_url.host().map(str::to_owned);
            let url = config.cluster_url.to_string();
            kube::Client::try_from(config)
                .map(|c| (c, host, url))
                .map_err(|e| Error::Client {
                    source: Box::new(e),
                })
        })?;
        Ok(Kube {
            client,
            namespace: namespace.to_owned(),
            host,
            url: Some(url),
            runtime,
        })
    }

    /// Connects as kubectl would without `--kubeconfig`: `$KUBECONFIG` or `~/.kube/config`, else the
    /// in-cluster service account; `namespace` or else the context's namespace.
    ///
    /// # Errors
    /// [`Error::Kubeconfig`] (with the path `default`), [`Error::Client`].
    pub fn infer(namespace: Option<&str>) -> Result<Kube, Error> {
        let runtime = runtime()?;
        let (client, default_namespace, host, url) = runtime.block_on(async {
            let config = kube::Config::infer().await.map_err(|e| Error::Kubeconfig {
                path: "default".to_owned(),
                source: Box::new(e),
            })?;
            let namespace = config.default_namespace.clone();
            let host = config.cluster_url.host().map(str::to_owned);
            let url = config.cluster_url.to_string();
            kube::Client::try_from(config)
                .map(|c| (c, namespace, host, url))
                .map_err(|e| Error::Client {
                    source: Box::new(e),
                })
        })?;
        Ok(Kube {
            client,
            namespace: namespace.map_or(default_namespace, str::to_owned),
            host,
            url: Some(url),
            runtime,
        })
    }

    /// Uses a client you built, in `namespace`.
    ///
    /// # Errors
    /// [`Error::Client`] when the runtime cannot be built.
    pub fn with_client(client: kube::Client, namespace: &str) -> Result<Kube, Error> {
        Ok(Kube {
            client,
            namespace: namespace.to_owned(),
            host: None,
            url: None,
            runtime: runtime()?,
        })
    }

    /// The namespace.
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The API server's host as the kubeconfig names it (`None` for a client given whole).
    #[must_use]
    pub fn server_host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The API server's URL as the kubeconfig gives it (`None` for a client given whole).
    #[must_use]
    pub fn server_url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The API server's `gitVersion` (`GET /version`; slipway-kubesim's ends in `-kubesim`).
    ///
    /// # Errors
    /// [`Error::Request`].
    pub fn server_version(&self) -> Result<String, Error> {
        self.runtime
            .block_on(self.client.apiserver_version())
            .map(|v| v.git_version)
            .map_err(|e| Error::Request {
                verb: "get",
                kind: "version",
                namespace: String::new(),
                name: "/version".to_owned(),
                source: Box::new(e),
            })
    }

    fn api(&self, kind: &Kind) -> Api<DynamicObject> {
        let resource = ApiResource {
            group: kind.group().to_owned(),
            version: kind.version().to_owned(),
            api_version: kind.api_version.to_owned(),
            kind: kind.kind.to_owned(),
            plural: kind.plural.to_owned(),
        };
        Api::namespaced_with(self.client.clone(), &self.namespace, &resource)
    }

    fn failed<E>(&self, verb: &'static str, kind: &Kind, name: &str) -> impl FnOnce(E) -> Error
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let namespace = self.namespace.clone();
        let name = name.to_owned();
        let kind = kind.kind;
        move |e| Error::Request {
            verb,
            kind,
            namespace,
            name,
            source: Box::new(e),
        }
    }
}

fn to_value(object: &DynamicObject) -> Value {
    serde_json::to_value(object).expect("a Kubernetes object always serialises")
}

impl Cluster for Kube {
    type Error = Error;

    fn get(&self, kind: &Kind, name: &str) -> Result<Option<Value>, Error> {
        let api = self.api(kind);
        let got = self
            .runtime
            .block_on(api.get_opt(name))
            .map_err(self.failed("get", kind, name))?;
        Ok(got.as_ref().map(to_value))
    }

    fn list(&self, kind: &Kind, selector: &str) -> Result<Vec<Value>, Error> {
        let api = self.api(kind);
        let mut params = ListParams::default();
        if !selector.is_empty() {
            params = params.labels(selector);
        }
        let list = self
            .runtime
            .block_on(api.list(&params))
            .map_err(self.failed("list", kind, ""))?;
        Ok(list.items.iter().map(to_value).collect())
    }

    fn apply(&self, object: &Value) -> Result<(), Error> {
        let kind = Kind::of(object).unwrap_or(Kind {
            api_version: "v1",
            kind: "Object",
            plural: "objects",
        });
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Unnamed {
                kind: kind.kind.to_owned(),
            })?;
        let api = self.api(&kind);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        self.runtime
            .block_on(api.patch(name, &params, &Patch::Apply(object)))
            .map_err(self.failed("apply", &kind, name))?;
        Ok(())
    }

    fn patch(&self, kind: &Kind, name: &str, merge_patch: &Value) -> Result<(), Error> {
        let api = self.api(kind);
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        self.runtime
            .block_on(api.patch(name, &params, &Patch::Merge(merge_patch)))
            .map_err(self.failed("patch", kind, name))?;
        Ok(())
    }

    fn wait(&self, kind: &Kind, resource_version: &str, timeout: Duration) -> Result<(), Error> {
        let api = self.api(kind);
        // The server ends the watch itself after `timeoutSeconds`; the local timeout covers a server
        // that does not.
        let seconds = u32::try_from(timeout.as_secs().max(1)).unwrap_or(u32::MAX);
        let params = WatchParams::default().timeout(seconds);
        self.runtime.block_on(async {
            let watch = tokio::time::timeout(timeout, async {
                let stream = api.watch(&params, resource_version).await?;
                let mut stream = std::pin::pin!(stream);
                // Any event (even an error event such as 410 Gone) means: look again.
                let _ = stream.next().await;
                Ok::<(), kube::Error>(())
            })
            .await;
            match watch {
                Ok(result) => result.map_err(self.failed("watch", kind, "")),
                Err(_elapsed) => Ok(()),
            }
        })
    }
}
