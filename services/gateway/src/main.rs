//! `casegrid-gateway`: the HTTP API in front of casegrid's services.

fn main() -> std::process::ExitCode {
    casegrid_runtime::service_main("casegrid-gateway", |settings, shutdown| async move {
        casegrid_gateway::serve(&settings, shutdown).await
    })
}
