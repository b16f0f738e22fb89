//! The CNI plugin `lattice-cni` (CNI spec 1.1.0; results for 0.3.x, 0.4.0, 1.0.0, 1.1.0).
//!
//! A thin client: it validates the environment ([`env`]) and stdin ([`conf`]), turns the command
//! into requests to latticed's local API ([`command`]), and writes latticed's answer as a CNI
//! result ([`result`]) or CNI error JSON ([`error`]). latticed allocates, wires and keeps the
//! state, so a plugin crash or a runtime retry cannot leave anything half-made.

pub mod command;
pub mod conf;
pub mod env;
pub mod error;
pub mod result;
pub mod version;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_input;

pub use command::{execute, Api, Unreachable};
pub use error::CniError;

/// One whole invocation: environment through `get`, stdin bytes, latticed through `api`.
/// Returns what to print on stdout and whether it is a success.
pub fn run(
    get: impl Fn(&str) -> Option<String>,
    stdin: &[u8],
    api: &mut dyn Api,
) -> (String, bool) {
    let fallback = conf::peek_version(stdin)
        .filter(|v| version::Version::parse(v).is_ok())
        .unwrap_or_else(|| version::CURRENT.to_string());
    let inv = match env::parse(get) {
        Ok(inv) => inv,
        Err(e) => return (e.to_json(&fallback), false),
    };
    if inv.command == env::Command::Version {
        return (version::version_json(), true);
    }
    let conf = match conf::parse(stdin) {
        Ok(c) => c,
        Err(e) => return (e.to_json(&fallback), false),
    };
    if inv.command == env::Command::Add {
        if let Some(netns) = &inv.netns {
            if !netns.exists() {
                let e = CniError::new(
                    error::code::UNKNOWN_CONTAINER,
                    format!(
                        "CNI_NETNS {} does not exist: the container is gone",
                        netns.display()
                    ),
                );
                return (e.to_json(&conf.cni_version), false);
            }
        }
    }
    match execute(&inv, &conf, api) {
        Ok(out) => (out.unwrap_or_default(), true),
        Err(e) => (e.to_json(&conf.cni_version), false),
    }
}
