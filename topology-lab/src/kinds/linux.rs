//! `linux`: a bare namespace and its exec lines.

use super::Ctx;
use crate::error::LabError;
use crate::sh;
use crate::topology::Node;

/// Run the node's exec lines.
pub fn start(ctx: &mut Ctx<'_>, node: &Node) -> Result<(), LabError> {
    let ns = ctx.lab.namespace(&node.name);
    for line in &node.exec {
        sh::exec_line(&node.name, &ns, line)?;
    }
    Ok(())
}
