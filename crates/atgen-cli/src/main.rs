//! The `atgen` binary: parses arguments, runs one command, and maps any
//! failure to a one-line message and exit code 1 (2 for usage errors, by clap).

mod args;
mod commands;
mod jsonl;

use args::{Cli, Command, ModelCommand};
use clap::Parser;

fn main() {
    atgen_models::memory::keep_freed_memory();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(a) => commands::run::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::Bench(a) => commands::bench_grid::run(a),
        Command::Model(ModelCommand::Init(a)) => commands::init::run(a),
        Command::Model(ModelCommand::Bench(a)) => commands::bench::run(a),
        Command::Generate(a) => commands::generate::run(a),
        Command::Score(a) => commands::score::run(a),
        Command::Embed(a) => commands::embed::run(a),
        Command::Finetune(a) => commands::finetune::run(a),
        Command::ServeModel(a) => commands::serve_model::run(a),
        Command::Serve(a) => commands::serve::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
