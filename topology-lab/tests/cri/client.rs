//! A kubelet's side of the CRI: RuntimeService calls over containerd's unix socket (gRPC, the
//! `k8s-cri` crate's generated client), each call blocking on a private runtime.

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    LinuxPodSandboxConfig, PodSandboxConfig, PodSandboxMetadata, PodSandboxStatusRequest,
    RemovePodSandboxRequest, RunPodSandboxRequest, StatusRequest, StopPodSandboxRequest,
    VersionRequest,
};
use tonic::transport::{Channel, Endpoint, Uri};

/// One CRI connection.
pub struct Cri {
    rt: tokio::runtime::Runtime,
    client: RuntimeServiceClient<Channel>,
}

/// What PodSandboxStatus says about a ready sandbox.
#[derive(Debug, Clone)]
pub struct Pod {
    pub id: String,
    pub ip: String,
    /// The sandbox process (its /proc/PID/ns/net is the pod's network namespace).
    pub pid: u32,
}

impl Cri {
    /// Connects to containerd's socket; errors while it is not up yet.
    pub fn connect(socket: &Path) -> Result<Cri, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let path: PathBuf = socket.to_path_buf();
        let channel = rt
            .block_on(async move {
                Endpoint::try_from("http://[::]:50051")?
                    .connect_with_connector(tower::service_fn(move |_: Uri| {
                        let path = path.clone();
                        async move {
                            let s = tokio::net::UnixStream::connect(path).await?;
                            Ok::<_, std::io::Error>(TokioIo::new(s))
                        }
                    }))
                    .await
            })
            .map_err(|e| e.to_string())?;
        let mut cri = Cri {
            rt,
            client: RuntimeServiceClient::new(channel),
        };
        cri.version()?;
        Ok(cri)
    }

    /// The runtime's name and version ("containerd 1.6.20~ds1").
    pub fn version(&mut self) -> Result<String, String> {
        let req = VersionRequest {
            version: "v1".into(),
        };
        let v = self
            .rt
            .block_on(self.client.version(req))
            .map_err(|e| e.message().to_string())?
            .into_inner();
        Ok(format!("{} {}", v.runtime_name, v.runtime_version))
    }

    /// The NetworkReady condition: (status, reason, message).
    pub fn network_ready(&mut self) -> Result<(bool, String), String> {
        let s = self
            .rt
            .block_on(self.client.status(StatusRequest { verbose: false }))
            .map_err(|e| e.message().to_string())?
            .into_inner();
        let conditions = s.status.map(|s| s.conditions).unwrap_or_default();
        let c = conditions
            .into_iter()
            .find(|c| c.r#type == "NetworkReady")
            .ok_or("no NetworkReady condition")?;
        Ok((c.status, format!("{}: {}", c.reason, c.message)))
    }

    /// RunPodSandbox, as kubelet sends it (metadata, hostname, log directory, cgroup parent).
    pub fn run_pod(
        &mut self,
        name: &str,
        cgroup_parent: &str,
        logs: &Path,
    ) -> Result<String, String> {
        let config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: name.into(),
                uid: format!("uid-{name}"),
                namespace: "default".into(),
                attempt: 0,
            }),
            hostname: name.into(),
            log_directory: logs.join(name).display().to_string(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: cgroup_parent.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let req = RunPodSandboxRequest {
            config: Some(config),
            runtime_handler: String::new(),
        };
        self.rt
            .block_on(self.client.run_pod_sandbox(req))
            .map(|r| r.into_inner().pod_sandbox_id)
            .map_err(|e| e.message().to_string())
    }

    /// PodSandboxStatus (verbose, for the sandbox's pid).
    pub fn pod(&mut self, id: &str) -> Result<Pod, String> {
        let req = PodSandboxStatusRequest {
            pod_sandbox_id: id.into(),
            verbose: true,
        };
        let r = self
            .rt
            .block_on(self.client.pod_sandbox_status(req))
            .map_err(|e| e.message().to_string())?
            .into_inner();
        let ip = r
            .status
            .and_then(|s| s.network)
            .map(|n| n.ip)
            .unwrap_or_default();
        let info: serde_json::Value = r
            .info
            .get("info")
            .and_then(|i| serde_json::from_str(i).ok())
            .unwrap_or_default();
        let pid = info["pid"].as_u64().unwrap_or(0) as u32;
        Ok(Pod {
            id: id.into(),
            ip,
            pid,
        })
    }

    /// StopPodSandbox: tears the pod's network down (CNI DEL).
    pub fn stop_pod(&mut self, id: &str) -> Result<(), String> {
        let req = StopPodSandboxRequest {
            pod_sandbox_id: id.into(),
        };
        self.rt
            .block_on(self.client.stop_pod_sandbox(req))
            .map(|_| ())
            .map_err(|e| e.message().to_string())
    }

    /// RemovePodSandbox.
    pub fn remove_pod(&mut self, id: &str) -> Result<(), String> {
        let req = RemovePodSandboxRequest {
            pod_sandbox_id: id.into(),
        };
        self.rt
            .block_on(self.client.remove_pod_sandbox(req))
            .map(|_| ())
            .map_err(|e| e.message().to_string())
    }

    /// Every sandbox's id.
    pub fn pods(&mut self) -> Result<Vec<String>, String> {
        let req = k8s_cri::v1::ListPodSandboxRequest { filter: None };
        self.rt
            .block_on(self.client.list_pod_sandbox(req))
            .map(|r| r.into_inner().items.into_iter().map(|p| p.id).collect())
            .map_err(|e| e.message().to_string())
    }
}
