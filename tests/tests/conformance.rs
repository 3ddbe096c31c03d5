//! Every registered conformance case on every adapter found. No adapter is a failure with
//! instructions, never a silent pass; a path the adapter lacks is listed as unsupported.

use squeeze_conformance::adapters::{NO_ADAPTER_HELP, open_all};
use squeeze_conformance::{Outcome, cases, run};

#[test]
fn every_case_on_every_adapter() {
    let adapters = open_all(None);
    assert!(!adapters.is_empty(), "{NO_ADAPTER_HELP}");
    let mut failures = Vec::new();
    let mut passed = 0;
    for (entry, gpu) in &adapters {
        let gpu = match gpu {
            Ok(gpu) => gpu,
            Err(e) => {
                failures.push(format!("{}: could not open: {e}", entry.label()));
                continue;
            }
        };
        for case in cases() {
            let outcome = run(gpu, &case);
            println!(
                "{:<12} {:<10} {:<9} {:<11} {}",
                format!("{:?}", entry.info.backend),
                case.kernel,
                case.path.name(),
                outcome.label(),
                case.name
            );
            match outcome {
                Outcome::Pass => passed += 1,
                Outcome::Fail(why) => failures.push(format!(
                    "{} {} [{}] {}: {why}",
                    entry.label(),
                    case.kernel,
                    case.path.name(),
                    case.name
                )),
                Outcome::Unsupported(_) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed > 0, "no case passed on any adapter");
}
