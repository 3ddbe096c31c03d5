//! The one error type of squeeze: every failure a user can cause or meet names the argument or
//! resource involved and the expected and actual values.

use std::fmt;

/// Result alias used across squeeze.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown backend `{given}`: expected one of vulkan, metal, dx12, gl")]
    UnknownBackend { given: String },

    #[error("{variable} = `{given}` is not valid: expected {expected}")]
    BadEnvironment {
        variable: &'static str,
        given: String,
        expected: &'static str,
    },

    #[error(
        "no GPU adapter found for backend(s) {backends}. On Debian/Ubuntu install Mesa's software \
         Vulkan driver with `apt-get install -y mesa-vulkan-drivers libvulkan1`, or a vendor driver"
    )]
    NoAdapter { backends: String },

    #[error("backend `{requested}` has no adapter here; available: {available}")]
    BackendUnavailable {
        requested: String,
        available: String,
    },

    #[error("adapter index {requested} is out of range: {count} adapter(s) found: {available}")]
    AdapterOutOfRange {
        requested: usize,
        count: usize,
        available: String,
    },

    #[error(
        "adapter {index} ({adapter}) is on backend {actual}, but backend {requested} was asked for"
    )]
    AdapterBackendMismatch {
        index: usize,
        adapter: String,
        requested: String,
        actual: String,
    },

    #[error("could not open a device on adapter `{adapter}`: {source}")]
    RequestDevice {
        adapter: String,
        #[source]
        source: wgpu::RequestDeviceError,
    },

    #[error("shader `{shader}` entry `{entry}` failed to compile: {message}")]
    ShaderCompile {
        shader: &'static str,
        entry: String,
        message: String,
    },

    #[error("shader `{shader}` has no entry point `{entry}`; it exports {available:?}")]
    UnknownEntryPoint {
        shader: &'static str,
        entry: String,
        available: &'static [&'static str],
    },

    #[error("shader `{shader}` needs device feature {feature}, which adapter `{adapter}` lacks")]
    MissingFeature {
        shader: &'static str,
        feature: &'static str,
        adapter: String,
    },

    #[error(
        "shader `{shader}` is not registered with overrides {given:?}: add the set to its \
         registry entry so the validation suite covers it"
    )]
    UnregisteredOverrides { shader: &'static str, given: String },

    #[error("argument `{arg}`: {what} must be {expected}, got {actual}")]
    InvalidArgument {
        arg: &'static str,
        what: &'static str,
        expected: String,
        actual: String,
    },

    #[error("argument `{arg}`: {bytes} bytes exceed the device limit {limit} = {max} bytes")]
    OverLimit {
        arg: &'static str,
        bytes: u64,
        limit: &'static str,
        max: u64,
    },

    #[error("reading back `{arg}` failed: {message}")]
    Readback { arg: &'static str, message: String },

    #[error("waiting for the device failed: {0}")]
    Poll(#[from] wgpu::PollError),

    /// An error of a kernel family's own — a malformed DFloat11 checkpoint or native file
    /// (`squeeze_dfloat11::Df11Error`), a corrupt GGUF file (`squeeze_quant::gguf::GgufError`) —
    /// kept whole, so an engine `?`s every squeeze call into this one type and can still
    /// `downcast_ref` to the family's error.
    #[error(transparent)]
    Family(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(
        arg: &'static str,
        what: &'static str,
        expected: impl fmt::Display,
        actual: impl fmt::Display,
    ) -> Self {
        Self::InvalidArgument {
            arg,
            what,
            expected: expected.to_string(),
            actual: actual.to_string(),
        }
    }
}
