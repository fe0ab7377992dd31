//! The node's executor assembled: the runtime engine ([`crate::engine`]) with its core host
//! functions and the contract sandbox ([`crate::sandbox`], over its own
//! [`crate::contract_engine`]) registered as one more host-function set. The runtime engine
//! knows host-function sets only through [`crate::HostFunctions`]; this is the one place that
//! puts contracts beside it.

use crate::contract_engine::ContractEngine;
use crate::engine::{ExecError, Executor, ExecutorConfig};
use crate::host_functions::core_host_functions;
use crate::sandbox::{ContractSandbox, SandboxFunctions};
use crate::signature_cache::VerifiedSignatures;
use std::sync::Arc;

impl Executor {
    /// An executor with the default host functions and a contract sandbox of its own.
    pub fn new(config: ExecutorConfig) -> Result<Self, ExecError> {
        let engine =
            ContractEngine::new(config.contracts.clone()).map_err(|e| ExecError::Instantiate(e.to_string()))?;
        let sandbox = Arc::new(ContractSandbox::new(Arc::new(engine)));
        let verified = Arc::new(VerifiedSignatures::default());
        let mut sets = core_host_functions(verified.clone());
        sets.push(Box::new(SandboxFunctions::new(sandbox)));
        Self::with_host_functions_verified(config, sets, verified)
    }
}
