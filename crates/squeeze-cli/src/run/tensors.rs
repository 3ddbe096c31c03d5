//! Named tensors in and out of `squeeze run`: a memory-mapped safetensors input checked against
//! the kernel's specs, `--set` parameters checked against its parameter list, and the output file.

use std::fs::File;
use std::path::Path;
use std::str::FromStr;

use memmap2::Mmap;
use safetensors::tensor::{Metadata, TensorView};
use safetensors::{Dtype, SafeTensors};
use squeeze::Error;

use super::{ParamDefault, ParamSpec, TensorSpec};
use crate::paths;

/// The input file, mapped once; tensors are borrowed views into it.
pub struct Inputs {
    map: Mmap,
    header: usize,
    metadata: Metadata,
}

/// One input tensor.
pub struct Tensor<'a> {
    pub name: &'static str,
    pub dtype: Dtype,
    pub shape: &'a [usize],
    pub data: &'a [u8],
}

fn file_error(path: &Path, what: &'static str, e: impl std::fmt::Display) -> Error {
    Error::invalid(
        "IN",
        what,
        "a readable safetensors file",
        format!("{}: {e}", path.display()),
    )
}

impl Inputs {
    /// Maps `path` and checks that it holds every required tensor of `specs` and nothing else.
    pub fn open(path: &Path, specs: &[TensorSpec]) -> Result<Self, Error> {
        paths::input("IN", path, paths::Kind::Safetensors)?;
        let file = File::open(path).map_err(|e| file_error(path, "file", e))?;
        // SAFETY: the map is read-only and lives as long as `Inputs`; a file truncated by another
        // process while we run is outside what a command-line tool can defend against.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| file_error(path, "file", e))?;
        let (header, metadata) =
            SafeTensors::read_metadata(&map).map_err(|e| file_error(path, "header", e))?;
        let inputs = Self {
            map,
            header,
            metadata,
        };
        let accepted: Vec<_> = specs.iter().map(|s| s.name).collect();
        for name in inputs.metadata.tensors().keys() {
            if !accepted.contains(&name.as_str()) {
                return Err(Error::invalid(
                    "IN",
                    "tensor name",
                    accepted.join(" | "),
                    name,
                ));
            }
        }
        for spec in specs.iter().filter(|s| s.required) {
            if inputs.metadata.info(spec.name).is_none() {
                return Err(Error::invalid(
                    spec.name,
                    "tensor",
                    format!("present in {}", path.display()),
                    "missing",
                ));
            }
        }
        Ok(inputs)
    }

    /// The tensor `name`, if the file has it.
    pub fn optional(&self, name: &'static str) -> Option<Tensor<'_>> {
        let info = self.metadata.info(name)?;
        let start = 8 + self.header + info.data_offsets.0;
        let end = 8 + self.header + info.data_offsets.1;
        Some(Tensor {
            name,
            dtype: info.dtype,
            shape: &info.shape,
            data: &self.map[start..end],
        })
    }

    /// The tensor `name`; [`Inputs::open`] already checked that required tensors exist.
    pub fn get(&self, name: &'static str) -> Result<Tensor<'_>, Error> {
        self.optional(name)
            .ok_or_else(|| Error::invalid(name, "tensor", "present", "missing"))
    }
}

impl Tensor<'_> {
    /// Checks the dtype is one of `accepted`.
    pub fn expect_dtype(&self, accepted: &[Dtype]) -> Result<Dtype, Error> {
        if accepted.contains(&self.dtype) {
            return Ok(self.dtype);
        }
        let names: Vec<_> = accepted.iter().map(|d| format!("{d:?}")).collect();
        Err(Error::invalid(
            self.name,
            "dtype",
            names.join(" | "),
            format!("{:?}", self.dtype),
        ))
    }

    /// The elements as `T` (copied: a mapped file gives no alignment guarantee).
    pub fn to_vec<T: bytemuck::Pod>(&self) -> Vec<T> {
        bytemuck::pod_collect_to_vec(self.data)
    }

    /// The shape, which must have `N` dimensions.
    pub fn dims<const N: usize>(&self) -> Result<[usize; N], Error> {
        self.shape.try_into().map_err(|_| {
            Error::invalid(
                self.name,
                "shape",
                format!("{N} dimensions"),
                format!("{:?}", self.shape),
            )
        })
    }
}

/// `--set key=value` parameters of one kernel, each checked against its [`ParamKind`] when
/// parsed, so every kernel reports a bad value the same way.
pub struct Settings {
    values: Vec<(&'static str, String)>,
    /// Keys the user set (the rest are defaults).
    given: Vec<&'static str>,
}

impl Settings {
    /// Parses `key=value` pairs; unknown keys, repeats, values of the wrong kind and missing
    /// required keys are errors.
    pub fn parse(specs: &'static [ParamSpec], pairs: &[String]) -> Result<Self, Error> {
        let mut values: Vec<(&'static str, String)> = Vec::new();
        for pair in pairs {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| Error::invalid("--set", "parameter", "KEY=VALUE", pair))?;
            let spec = specs.iter().find(|s| s.name == key).ok_or_else(|| {
                let names: Vec<_> = specs.iter().map(|s| s.name).collect();
                Error::invalid("--set", "parameter name", names.join(" | "), key)
            })?;
            if values.iter().any(|(k, _)| *k == spec.name) {
                return Err(Error::invalid("--set", spec.name, "set once", "set twice"));
            }
            spec.kind.check(spec.name, value)?;
            values.push((spec.name, value.to_string()));
        }
        let given = values.iter().map(|(k, _)| *k).collect();
        for spec in specs {
            if values.iter().any(|(k, _)| *k == spec.name) {
                continue;
            }
            match spec.default {
                ParamDefault::Required => {
                    return Err(Error::invalid(
                        spec.name,
                        "parameter",
                        format!("given as --set {}=…", spec.name),
                        "missing",
                    ));
                }
                ParamDefault::Unset(_) => {}
                ParamDefault::Value(v) => values.push((spec.name, v.to_string())),
            }
        }
        Ok(Self { values, given })
    }

    /// The text of `key` (set or defaulted), or `None` for an optional parameter left unset.
    pub fn text(&self, key: &'static str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the user set `key` (rather than leaving its default).
    pub fn given(&self, key: &'static str) -> bool {
        self.given.contains(&key)
    }

    /// `key` parsed as `T`, or `None` when it is optional and unset.
    pub fn optional<T: FromStr>(&self, key: &'static str) -> Result<Option<T>, Error>
    where
        T::Err: std::fmt::Display,
    {
        self.text(key)
            .map(|text| {
                text.parse().map_err(|e: T::Err| {
                    Error::invalid(key, "value", format!("in range ({e})"), format!("`{text}`"))
                })
            })
            .transpose()
    }

    /// `key` parsed as `T`; an unset optional parameter is an error naming it.
    pub fn get<T: FromStr>(&self, key: &'static str) -> Result<T, Error>
    where
        T::Err: std::fmt::Display,
    {
        self.optional(key)?.ok_or_else(|| {
            Error::invalid(key, "parameter", format!("given as --set {key}=…"), "unset")
        })
    }
}

/// One output tensor, owned.
pub struct Output {
    pub name: &'static str,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl Output {
    pub fn f32(name: &'static str, shape: Vec<usize>, values: &[f32]) -> Self {
        Self {
            name,
            dtype: Dtype::F32,
            shape,
            data: bytemuck::cast_slice(values).to_vec(),
        }
    }

    /// BF16 values given as their bits.
    pub fn bf16(name: &'static str, shape: Vec<usize>, bits: &[u16]) -> Self {
        Self {
            name,
            dtype: Dtype::BF16,
            shape,
            data: bits.iter().flat_map(|b| b.to_le_bytes()).collect(),
        }
    }
}

/// Writes `outputs` to one safetensors file at `path` (created with the process umask).
pub fn write(path: &Path, outputs: &[Output]) -> Result<(), Error> {
    let views = outputs
        .iter()
        .map(|o| {
            TensorView::new(o.dtype, o.shape.clone(), &o.data)
                .map(|v| (o.name, v))
                .map_err(|e| Error::invalid(o.name, "output tensor", "consistent shape", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bytes = safetensors::serialize(views, None)
        .map_err(|e| Error::invalid("OUT", "tensors", "serialisable", e))?;
    std::fs::write(path, bytes).map_err(|e| {
        Error::invalid(
            "OUT",
            "file",
            "writable",
            format!("{}: {e}", path.display()),
        )
    })
}
