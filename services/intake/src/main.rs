//! casegrid-intake: the intake service as its own process.

fn main() -> std::process::ExitCode {
    casegrid_runtime::service_main("casegrid-intake", |settings, shutdown| async move {
        casegrid_intake::serve(&settings, shutdown).await
    })
}
