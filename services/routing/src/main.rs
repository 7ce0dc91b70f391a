//! casegrid-routing: the routing service as its own process.

fn main() -> std::process::ExitCode {
    casegrid_runtime::service_main("casegrid-routing", |settings, shutdown| async move {
        casegrid_routing::serve(&settings, shutdown).await
    })
}
