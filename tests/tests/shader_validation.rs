//! Every registered WGSL module, with each override set it is compiled with, parsed and
//! validated by naga and translated to SPIR-V (checked by `spirv-val` when installed; required
//! under CI), MSL, HLSL and GLSL, with no GPU. A module that needs f16 is skipped for GLSL by
//! name (naga's GLSL backend has no f16); every other target must translate.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use naga::back::{PipelineConstants, glsl, hlsl, msl, spv};
use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use squeeze::shaders::Module;
use squeeze_conformance::all_modules;
use squeeze_conformance::params_layout::{is_padding, params_layouts};

fn capabilities(module: &Module) -> Capabilities {
    let mut caps = Capabilities::empty();
    if module.requires.f16 {
        caps |= Capabilities::SHADER_FLOAT16;
    }
    if module.requires.subgroups {
        caps |= Capabilities::SUBGROUP | Capabilities::SUBGROUP_BARRIER;
    }
    caps
}

fn parse_and_validate(module: &Module) -> (naga::Module, ModuleInfo) {
    let ir = naga::front::wgsl::parse_str(&module.source()).unwrap_or_else(|e| {
        panic!(
            "{}: WGSL parse error:\n{}",
            module.name,
            e.emit_to_string(&module.source())
        )
    });
    let info = Validator::new(ValidationFlags::all(), capabilities(module))
        .validate(&ir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: naga validation (capabilities {:?}):\n{}",
                module.name,
                capabilities(module),
                e.emit_to_string(&module.source())
            )
        });
    (ir, info)
}

fn spirv_val(name: &str, words: &[u32]) -> Result<(), String> {
    let path = std::env::temp_dir().join(format!(
        "squeeze-{}-{}.spv",
        name.replace(['/', ' ', ','], "_"),
        std::process::id()
    ));
    std::fs::write(&path, bytemuck_words(words)).map_err(|e| e.to_string())?;
    let out = Command::new("spirv-val")
        .args(["--target-env", "vulkan1.1"])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "spirv-val rejected it:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => Err(format!("could not run spirv-val: {e}")),
    }
}

fn bytemuck_words(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn spirv_val_available() -> bool {
    let found = Command::new("spirv-val").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "spirv-val is required under CI: apt-get install -y spirv-tools"
        );
        eprintln!("note: spirv-val not installed (apt-get install spirv-tools); SPIR-V unchecked");
    }
    found
}

/// Translates one entry point of one override set to the four targets; errors name the target.
fn translate(
    module: &Module,
    ir: &naga::Module,
    info: &ModuleInfo,
    entry: &str,
    overrides: &[(&str, f64)],
    check_spirv: bool,
) -> Vec<String> {
    let stage = naga::ShaderStage::Compute;
    let mut constants = PipelineConstants::default();
    for (name, value) in overrides {
        constants.insert((*name).to_string(), *value);
    }
    let label = format!("{} `{entry}` {overrides:?}", module.name);
    let (ir, info) = match naga::back::pipeline_constants::process_overrides(
        ir,
        info,
        Some((stage, entry)),
        &constants,
    ) {
        Ok(x) => x,
        Err(e) => return vec![format!("{label}: applying overrides: {e}")],
    };
    let mut errors = Vec::new();

    let spv_pipeline = spv::PipelineOptions {
        shader_stage: stage,
        entry_point: entry.to_string(),
    };
    // Subgroup operations need SPIR-V 1.3; wgpu picks the device's highest version, which is
    // at least that wherever subgroups exist.
    let spv_options = spv::Options {
        lang_version: if module.requires.subgroups {
            (1, 3)
        } else {
            (1, 0)
        },
        ..Default::default()
    };
    match spv::write_vec(&ir, &info, &spv_options, Some(&spv_pipeline)) {
        Ok(words) if check_spirv => {
            if let Err(e) = spirv_val(&label, &words) {
                errors.push(format!("{label} → SPIR-V: {e}"));
            }
        }
        Ok(_) => {}
        Err(e) => errors.push(format!("{label} → SPIR-V: {e}")),
    }

    let msl_options = msl::Options {
        lang_version: (2, 4),
        ..Default::default()
    };
    let msl_pipeline = msl::PipelineOptions {
        entry_point: Some((stage, entry.to_string())),
        ..Default::default()
    };
    if let Err(e) = msl::write_string(&ir, &info, &msl_options, &msl_pipeline) {
        errors.push(format!("{label} → MSL: {e}"));
    }

    let hlsl_options = hlsl::Options {
        shader_model: hlsl::ShaderModel::V6_2,
        ..Default::default()
    };
    let hlsl_pipeline = hlsl::PipelineOptions {
        entry_point: Some((stage, entry.to_string())),
    };
    let mut hlsl_out = String::new();
    if let Err(e) =
        hlsl::Writer::new(&mut hlsl_out, &hlsl_options, &hlsl_pipeline).write(&ir, &info, None)
    {
        errors.push(format!("{label} → HLSL: {e}"));
    }

    if module.requires.f16 {
        eprintln!("{label} → GLSL: skipped (f16 variant; naga's GLSL backend has no f16)");
    } else {
        let glsl_options = glsl::Options {
            version: glsl::Version::Desktop(430),
            ..Default::default()
        };
        let glsl_pipeline = glsl::PipelineOptions {
            shader_stage: stage,
            entry_point: entry.to_string(),
            multiview: None,
        };
        let mut glsl_out = String::new();
        let result = glsl::Writer::new(
            &mut glsl_out,
            &ir,
            &info,
            &glsl_options,
            &glsl_pipeline,
            naga::proc::BoundsCheckPolicies::default(),
        )
        .and_then(|mut w| w.write());
        if let Err(e) = result {
            errors.push(format!("{label} → GLSL: {e}"));
        }
    }
    errors
}

#[test]
fn every_module_translates_to_every_target() {
    let check_spirv = spirv_val_available();
    let mut errors = Vec::new();
    let mut translated = 0;
    for module in all_modules() {
        let (ir, info) = parse_and_validate(module);
        assert!(
            !module.override_sets.is_empty(),
            "{}: no override set registered",
            module.name
        );
        for overrides in module.override_sets {
            for entry in module.entry_points {
                errors.extend(translate(module, &ir, &info, entry, overrides, check_spirv));
                translated += 1;
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
    assert!(translated > 0);
}

#[test]
fn registered_entry_points_are_exactly_the_modules_compute_entries() {
    for module in all_modules() {
        let (ir, _) = parse_and_validate(module);
        let found: BTreeSet<&str> = ir
            .entry_points
            .iter()
            .filter(|e| e.stage == naga::ShaderStage::Compute)
            .map(|e| e.name.as_str())
            .collect();
        let registered: BTreeSet<&str> = module.entry_points.iter().copied().collect();
        assert_eq!(found, registered, "{}: entry points", module.name);
    }
}

#[test]
fn overrides_named_in_the_registry_exist_in_the_module() {
    for module in all_modules() {
        let (ir, _) = parse_and_validate(module);
        let declared: BTreeSet<&str> = ir
            .overrides
            .iter()
            .filter_map(|(_, o)| o.name.as_deref())
            .collect();
        for set in module.override_sets {
            for (name, _) in *set {
                assert!(
                    declared.contains(name),
                    "{}: override `{name}` is not declared",
                    module.name
                );
            }
        }
    }
}

/// A field as the layout test compares it: (name, byte offset, type as Rust writes it).
type Field = (String, usize, String);

/// The WGSL `Params` struct bound at `@group(0) @binding(0)` of `ir`: its size and its fields,
/// a struct member's fields flattened into `member.field` (as `params_layout!` names them).
fn wgsl_params(module: &Module, ir: &naga::Module) -> (usize, Vec<Field>) {
    let (_, params) = ir
        .global_variables
        .iter()
        .find(|(_, g)| g.name.as_deref() == Some("params"))
        .unwrap_or_else(|| panic!("{}: no `params` uniform", module.name));
    assert_eq!(params.space, naga::AddressSpace::Uniform, "{}", module.name);
    assert_eq!(
        params.binding.as_ref().map(|b| (b.group, b.binding)),
        Some((0, 0)),
        "{}: params must be @group(0) @binding(0)",
        module.name
    );
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(ir.to_ctx()).expect("layout");
    let naga::TypeInner::Struct { members, .. } = &ir.types[params.ty].inner else {
        panic!("{}: `params` is not a struct", module.name);
    };
    let mut fields = Vec::new();
    flatten_members(ir, members, "", 0, &mut fields);
    (layouter[params.ty].size as usize, fields)
}

/// `members` (of a struct at byte `offset`, its fields named `prefix` + name) as fields, a member
/// that is a struct replaced by its own members.
fn flatten_members(
    ir: &naga::Module,
    members: &[naga::StructMember],
    prefix: &str,
    offset: usize,
    out: &mut Vec<Field>,
) {
    for m in members {
        let name = format!("{prefix}{}", m.name.as_deref().unwrap_or_default());
        let at = offset + m.offset as usize;
        match &ir.types[m.ty].inner {
            naga::TypeInner::Struct { members, .. } => {
                flatten_members(ir, members, &format!("{name}."), at, out)
            }
            _ => out.push((name, at, rust_type_name(ir, m.ty))),
        }
    }
}

/// A WGSL type as `std::any::type_name` writes its Rust twin; naga's own description otherwise
/// (which matches nothing, so the test names it).
fn rust_type_name(ir: &naga::Module, ty: naga::Handle<naga::Type>) -> String {
    let scalar = |s: naga::Scalar| match (s.kind, s.width) {
        (naga::ScalarKind::Uint, 4) => "u32".to_string(),
        (naga::ScalarKind::Sint, 4) => "i32".to_string(),
        (naga::ScalarKind::Float, 4) => "f32".to_string(),
        _ => format!("{s:?}"),
    };
    match &ir.types[ty].inner {
        naga::TypeInner::Scalar(s) => scalar(*s),
        naga::TypeInner::Vector { size, scalar: s } => format!("[{}; {}]", scalar(*s), *size as u8),
        naga::TypeInner::Array {
            base,
            size: naga::ArraySize::Constant(n),
            ..
        } => format!("[{}; {n}]", rust_type_name(ir, *base)),
        other => format!("{other:?}"),
    }
}

/// Size, then each value-carrying field's name, offset and type, in order: a swap or retype on
/// either side fails here rather than handing a kernel the wrong numbers. Padding (`_…`) is
/// checked through the size only, as Rust pads with one array where WGSL needs one scalar per word.
#[test]
fn rust_params_match_the_wgsl_layout() {
    let layouts = params_layouts();
    for module in all_modules() {
        let (ir, _) = parse_and_validate(module);
        let (wgsl_size, wgsl_fields) = wgsl_params(module, &ir);
        let rust = &layouts
            .iter()
            .find(|(name, _)| *name == module.name)
            .unwrap_or_else(|| panic!("{}: no Rust params layout in params_layouts()", module.name))
            .1;
        assert_eq!(
            rust.size, wgsl_size,
            "{}: size of Rust Params vs WGSL Params",
            module.name
        );
        let wgsl_named: Vec<Field> = wgsl_fields
            .into_iter()
            .filter(|(name, _, _)| !is_padding(name))
            .collect();
        let rust_named: Vec<Field> = rust
            .named_fields()
            .map(|f| (f.name.clone(), f.offset, f.ty.to_string()))
            .collect();
        assert_eq!(
            rust_named, wgsl_named,
            "{}: fields (name, offset, type) of Rust Params (left) vs WGSL Params (right)",
            module.name
        );
    }
}

fn wgsl_files(dir: &Path, root: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read shader dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            wgsl_files(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "wgsl") {
            let rel = path.strip_prefix(root).expect("prefix");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn every_wgsl_file_belongs_to_a_registered_module() {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let parts: BTreeSet<&str> = all_modules()
        .iter()
        .flat_map(|m| m.parts.iter().map(|p| p.path))
        .collect();
    let mut files = Vec::new();
    let shaders = here.join("../shaders");
    wgsl_files(&shaders, &shaders, &mut files);
    let src = here.join("src");
    wgsl_files(&src, &src, &mut files);
    assert!(files.len() >= 4, "found too few WGSL files: {files:?}");
    let orphans: Vec<&String> = files
        .iter()
        .filter(|f| !parts.contains(f.as_str()))
        .collect();
    assert!(
        orphans.is_empty(),
        "WGSL files in no registered module: {orphans:?}"
    );
}
