//! `fengqiao-replica`: the server (`fengqiao serve`) configured by `FENGQIAO_*` environment variables
//! only, for tests that need a second server process beside the one they run in.

fn main() -> anyhow::Result<()> {
    fengqiao::init_logging();
    let config = fengqiao::config::Config::load(None)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(fengqiao::serve(config))
}
