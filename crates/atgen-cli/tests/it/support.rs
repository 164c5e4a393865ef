//! Helpers: a temp workspace with toy data, a config dir, and the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub fn atgen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_atgen"))
}

/// Runs the binary in `dir`, returning its output.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    atgen()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("spawning atgen: {e}"))
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A task a tiny model can start to learn: reverse three letters.
fn toy_rows(n: usize, offset: usize) -> String {
    let letters = ["a", "b", "c", "d", "e"];
    (0..n)
        .map(|i| {
            let k = i + offset;
            let w = [letters[k % 5], letters[(k / 5) % 5], letters[(k / 25) % 5]];
            format!(
                "{{\"id\": \"r{k}\", \"text\": \"{} {} {}\", \"label\": \"{} {} {}\"}}\n",
                w[0], w[1], w[2], w[2], w[1], w[0]
            )
        })
        .collect()
}

/// A workspace: `pool.jsonl` (40 rows), `test.jsonl` (8 rows), `conf/data/toy.yaml`, `conf/model/toy.yaml`.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("pool.jsonl"), toy_rows(40, 0))?;
        std::fs::write(dir.path().join("test.jsonl"), toy_rows(8, 60))?;
        let conf = dir.path().join("conf");
        std::fs::create_dir_all(conf.join("data"))?;
        std::fs::create_dir_all(conf.join("model"))?;
        std::fs::write(
            conf.join("data").join("toy.yaml"),
            "dataset: pool.jsonl\ntest_file: test.jsonl\ninput_column: text\noutput_column: label\nid_column: id\n\
             prompt_template: \"Reverse: {text} =>\"\nmetrics:\n  - exact_match\n",
        )?;
        std::fs::write(
            conf.join("model").join("toy.yaml"),
            "checkpoint: toy-model\ndtype: f32\nuse_chat_template: false\npeft:\n  kind: lora\n  r: 4\n  alpha: 8\n  dropout: 0.0\n\
             init:\n  arch: qwen3\n  hidden_size: 32\n  intermediate_size: 64\n  layers: 1\n  heads: 2\n  kv_heads: 1\n  vocab_size: 300\n  max_position_embeddings: 64\n  pretrain_epochs: 0\n",
        )?;
        Ok(Workspace { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The common arguments of a fast run, plus `extra`.
    pub fn run_args(&self, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = [
            "run",
            "--config-dir",
            "conf",
            "data=toy",
            "model=toy",
            "al.init_query_size=4",
            "al.query_size=4",
            "al.num_iterations=2",
            "data.test_subset_size=null",
            "training.num_epochs=1",
            "training.batch_size=4",
            "training.lr=0.01",
            "inference.max_new_tokens=4",
            "output_dir=out",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    pub fn run(&self, extra: &[&str]) -> Output {
        let args = self.run_args(extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run_in(self.path(), &refs)
    }

    /// The only run directory under `out/<name>/`.
    pub fn run_dirs(&self, name: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.path().join("out").join(name))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

pub fn read_json(p: &Path) -> serde_json::Value {
    let t = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every labeled id of a run, in order of rounds, with duplicates kept.
pub fn labeled_ids(run: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for round in 0..10 {
        let p = run.join(format!("iter_{round:03}")).join("labeled.jsonl");
        if let Ok(t) = std::fs::read_to_string(&p) {
            for l in t.lines().filter(|l| !l.trim().is_empty()) {
                let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
                out.push(v["id"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    out
}

/// The predictions of one round's `generations.jsonl`, in order (empty when the file is missing).
pub fn predictions(run: &Path, round: usize) -> Vec<String> {
    std::fs::read_to_string(
        run.join(format!("iter_{round:03}"))
            .join("generations.jsonl"),
    )
    .unwrap_or_default()
    .lines()
    .map(|l| {
        serde_json::from_str::<serde_json::Value>(l)
            .map(|v| v["prediction"].to_string())
            .unwrap_or_default()
    })
    .collect()
}

/// `atgen serve-model` on a free port; the child and its `http://127.0.0.1:<port>/v1`.
/// The server is killed when the returned guard drops.
pub struct ServeModel {
    child: std::process::Child,
    pub url: String,
}

impl ServeModel {
    pub fn start(dir: &Path, model: &str, name: &str) -> Result<Self, Box<dyn std::error::Error>> {
        use std::io::{BufRead, BufReader};
        let mut child = atgen()
            .current_dir(dir)
            .args([
                "serve-model",
                "--model",
                model,
                "--port",
                "0",
                "--served-name",
                name,
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        if let Some(err) = child.stderr.take() {
            BufReader::new(err).read_line(&mut line)?;
        }
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "serve-model said: {line}"
        );
        Ok(ServeModel { child, url })
    }
}

impl Drop for ServeModel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
