//! `linux`: a bare namespace and its exec lines.

use super::Ctx;
use crate::error::LabError;
use crate::sh;
use crate::topology::Node;

/// Run the node's exec lines with its environment.
pub fn start(ctx: &mut Ctx<'_>, node: &Node) -> Result<(), LabError> {
    let ns = ctx.lab.namespace(&node.name);
    let env = crate::env::environment(node)?;
    for line in &node.exec {
        sh::exec_line(&node.name, &ns, line, &env)?;
    }
    Ok(())
}
