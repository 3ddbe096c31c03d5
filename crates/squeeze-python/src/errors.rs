//! squeeze's typed errors as Python exceptions, with the messages the `squeeze` command prints:
//! bad input (a shape, a dtype, a parameter, a path, an adapter that is not there, a malformed
//! file) is `ValueError`; what the device or driver failed at is `RuntimeError`; a failed read or
//! write of a file is `OSError`.

use pyo3::PyErr;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use squeeze::Error;
use squeeze::dfloat11::Df11Error;
use squeeze::files::FileError;
use squeeze::quant::gguf::GgufError;

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
        // A family's own error is about its input (a malformed file, a model squeeze cannot
        // run), but for a failed read.
        Error::Family(e) => {
            let io = e
                .downcast_ref::<Df11Error>()
                .is_some_and(|e| matches!(e, Df11Error::Io { .. }))
                || e.downcast_ref::<GgufError>()
                    .is_some_and(|e| matches!(e, GgufError::Io { .. }));
            if io {
                PyOSError::new_err(message)
            } else {
                PyValueError::new_err(message)
            }
        }
        _ => PyRuntimeError::new_err(message),
    }
}

/// The exception for a DF11 error: malformed unit data, layout or checkpoint is bad input; a
/// wrapped squeeze error keeps its own class.
pub fn df11_to_py(e: Df11Error) -> PyErr {
    match e {
        Df11Error::Gpu(e) => to_py(e),
        e @ Df11Error::Io { .. } => PyOSError::new_err(e.to_string()),
        e => PyValueError::new_err(e.to_string()),
    }
}

/// The exception for a file function's error.
pub fn file_to_py(e: FileError) -> PyErr {
    match e {
        FileError::Squeeze(e) => to_py(e),
        FileError::Df11(e) => df11_to_py(e),
        FileError::Gguf(e @ GgufError::Io { .. }) => PyOSError::new_err(e.to_string()),
        FileError::Gguf(e) => PyValueError::new_err(e.to_string()),
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
