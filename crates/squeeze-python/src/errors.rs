//! squeeze's typed errors as Python exceptions, with the messages `squeeze run` prints: bad
//! input (a shape, a dtype, a parameter, an adapter that is not there) is `ValueError`; what the
//! device or driver failed at is `RuntimeError`.

use pyo3::PyErr;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use squeeze::Error;
use squeeze::dfloat11::Df11Error;

/// The exception for a squeeze error.
pub fn to_py(e: Error) -> PyErr {
    let message = e.to_string();
    match e {
        Error::UnknownBackend { .. }
        | Error::BadEnvironment { .. }
        | Error::BackendUnavailable { .. }
        | Error::AdapterOutOfRange { .. }
        | Error::AdapterBackendMismatch { .. }
        | Error::InvalidArgument { .. }
        | Error::OverLimit { .. } => PyValueError::new_err(message),
        _ => PyRuntimeError::new_err(message),
    }
}

/// The exception for a DF11 error: malformed unit data or layout is bad input; a wrapped squeeze
/// error keeps its own class.
pub fn df11_to_py(e: Df11Error) -> PyErr {
    match e {
        Df11Error::Gpu(e) => to_py(e),
        e => PyValueError::new_err(e.to_string()),
    }
}

/// `ValueError` for an argument that is not what it must be, worded as [`Error::invalid`].
pub fn invalid(
    arg: &'static str,
    what: &'static str,
    expected: impl std::fmt::Display,
    actual: impl std::fmt::Display,
) -> PyErr {
    to_py(Error::invalid(arg, what, expected, actual))
}
