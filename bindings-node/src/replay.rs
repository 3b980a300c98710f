//! Replay and datasets from Node: the core's `replay` module run off the JavaScript thread
//! (each call is a promise of JSON text; `lib/replay.js` parses it).

use napi::bindgen_prelude::*;
use napi_derive::napi;

type Entry = fn(&serde_json::Value) -> std::result::Result<serde_json::Value, String>;

/// One replay or dataset call on the libuv pool.
pub struct ReplayTask {
    options: String,
    entry: Entry,
}

impl Task for ReplayTask {
    type Output = String;
    type JsValue = String;
    fn compute(&mut self) -> Result<String> {
        let options: serde_json::Value = serde_json::from_str(&self.options)
            .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))?;
        (self.entry)(&options)
            .map(|v| v.to_string())
            .map_err(|e| Error::new(Status::InvalidArg, e))
    }
    fn resolve(&mut self, _env: Env, output: String) -> Result<String> {
        Ok(output)
    }
}

fn task(options: String, entry: Entry) -> AsyncTask<ReplayTask> {
    AsyncTask::new(ReplayTask { options, entry })
}

/// `replayJson(options)`: the reports of a trace's replayed calls, as JSON text.
#[napi(ts_return_type = "Promise<string>")]
pub fn replay_json(options: String) -> AsyncTask<ReplayTask> {
    task(options, fivelens_core::replay::replay_json)
}

/// `datasetExportJson(options)`: the matching calls' dataset lines, as JSON text.
#[napi(ts_return_type = "Promise<string>")]
pub fn dataset_export_json(options: String) -> AsyncTask<ReplayTask> {
    task(options, fivelens_core::replay::dataset_json)
}

/// `datasetRunJson(options)`: a dataset run against a candidate, as JSON text.
#[napi(ts_return_type = "Promise<string>")]
pub fn dataset_run_json(options: String) -> AsyncTask<ReplayTask> {
    task(options, fivelens_core::replay::run_dataset_json)
}
