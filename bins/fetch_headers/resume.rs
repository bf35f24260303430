//! `--resume FILE`: which input positions are finished, kept in a checkpoint file that a run
//! started again with the same arguments reads to skip them.
//!
//! A position is one entry of the input: a TARGET argument, or a line of a `-i` file that is
//! neither blank nor a comment (bad lines too: they are reported like targets). A position
//! counts as finished only once its result has been written out (stdout flushed, its failure
//! line written to stderr); the file is then replaced by writing a new one beside it and renaming
//! it over the old, so a run killed at any moment (SIGKILL included) leaves either the previous
//! checkpoint or the new one, and never one that claims a result that was not written. What was
//! in flight, or written but not yet recorded, is fetched again.
//!
//! Results finish out of order, so the file holds the first position not finished (`done`) and
//! the ranges finished beyond it (`also`): as many ranges as there are holes, which the
//! concurrency (and, in input order, the reorder window) bounds. It is not synced to disk: it
//! survives the process, as the output written before it does, not a power cut.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The positions finished: all below `done`, and those in the disjoint ranges of `also`
/// (start -> end, end excluded), none of which touches `done` or another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finished {
    done: u64,
    also: BTreeMap<u64, u64>,
}

impl Finished {
    /// Whether `position` is finished.
    pub fn contains(&self, position: u64) -> bool {
        position < self.done
            || self
                .also
                .range(..=position)
                .next_back()
                .is_some_and(|(_, &end)| position < end)
    }

    /// Records `position` as finished, merging it into its neighbours.
    pub fn insert(&mut self, position: u64) {
        if self.contains(position) {
            return;
        }
        let mut start = position;
        let mut end = position + 1;
        // A range that ends where this one starts.
        if let Some((&s, &e)) = self.also.range(..position).next_back()
            && e == position
        {
            self.also.remove(&s);
            start = s;
        }
        // A range that starts where this one ends.
        if let Some(e) = self.also.remove(&end) {
            end = e;
        }
        if start == self.done {
            self.done = end;
        } else {
            self.also.insert(start, end);
        }
    }

    /// The first position not finished.
    #[cfg(test)]
    fn done(&self) -> u64 {
        self.done
    }

    /// How many ranges beyond the first position not finished are kept.
    #[cfg(test)]
    fn ranges(&self) -> usize {
        self.also.len()
    }
}

/// What the file holds: the arguments it belongs to, then what is finished.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    #[serde(rename = "fetch-headers-resume")]
    format: u32,
    targets: Vec<String>,
    inputs: Vec<String>,
    done: u64,
    also: Vec<[u64; 2]>,
}

/// The checkpoint of a run: where it is written, the arguments it belongs to, and what is
/// finished so far.
#[derive(Debug)]
pub struct Checkpoint {
    path: PathBuf,
    temporary: PathBuf,
    targets: Vec<String>,
    inputs: Vec<String>,
    finished: Finished,
    /// Changed since the last save.
    dirty: bool,
}

impl Checkpoint {
    /// The checkpoint at `path` for a run over `targets` and `inputs` (as given on the command
    /// line): read back if the file exists, else empty. A file that cannot be read, is no
    /// checkpoint, or belongs to other arguments is an error naming it.
    pub fn open(path: &Path, targets: Vec<String>, inputs: Vec<String>) -> Result<Self, String> {
        let name = path.display();
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let mut checkpoint = Checkpoint {
            path: path.to_owned(),
            temporary: PathBuf::from(temporary),
            targets,
            inputs,
            finished: Finished::default(),
            dirty: false,
        };
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(checkpoint),
            Err(e) => return Err(format!("--resume {name}: {}", reason(&e))),
        };
        let stored: Stored = serde_json::from_slice(&text)
            .map_err(|e| format!("--resume {name}: not a fetch-headers checkpoint ({e})"))?;
        if stored.format != 1 {
            return Err(format!(
                "--resume {name}: checkpoint format {} (this fetch-headers reads 1)",
                stored.format
            ));
        }
        if stored.targets != checkpoint.targets || stored.inputs != checkpoint.inputs {
            return Err(format!(
                "--resume {name}: written by a run with other TARGET arguments or -i files \
                 (resuming needs the same ones; remove the file to start over)"
            ));
        }
        let finished = &mut checkpoint.finished;
        finished.done = stored.done;
        // Written disjoint and in order, so only a range that reaches the front needs merging.
        for [start, end] in stored.also.into_iter().filter(|[s, e]| s < e) {
            if start <= finished.done {
                finished.done = finished.done.max(end);
            } else {
                finished.also.insert(start, end);
            }
        }
        Ok(checkpoint)
    }

    /// What was finished when the run started or since.
    pub fn finished(&self) -> &Finished {
        &self.finished
    }

    /// Records `position` as written out (saved with the next [`Checkpoint::save`]).
    pub fn finish(&mut self, position: u64) {
        self.finished.insert(position);
        self.dirty = true;
    }

    /// Writes the checkpoint if it changed: a new file beside it, renamed over it.
    pub fn save(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let stored = Stored {
            format: 1,
            targets: self.targets.clone(),
            inputs: self.inputs.clone(),
            done: self.finished.done,
            also: self.finished.also.iter().map(|(&s, &e)| [s, e]).collect(),
        };
        let text = serde_json::to_vec(&stored).expect("plain data serializes");
        std::fs::write(&self.temporary, text)
            .and_then(|()| std::fs::rename(&self.temporary, &self.path))
            .map_err(|e| {
                let name = self.path.display();
                io::Error::new(
                    e.kind(),
                    format!("cannot write --resume {name}: {}", reason(&e)),
                )
            })?;
        self.dirty = false;
        Ok(())
    }

    /// Removes the checkpoint of a run that finished every target: the next run starts over.
    pub fn remove(self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io::Error::new(
                e.kind(),
                format!(
                    "cannot remove --resume {}: {}",
                    self.path.display(),
                    reason(&e)
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// `No such file or directory`, without std's ` (os error 2)` suffix.
fn reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_positions_merge_into_ranges_and_the_front() {
        let mut f = Finished::default();
        for p in [3, 5, 4, 9, 1] {
            f.insert(p);
        }
        assert_eq!((f.done(), f.ranges()), (0, 3), "{f:?}");
        f.insert(0);
        assert_eq!((f.done(), f.ranges()), (2, 2), "{f:?}");
        f.insert(2);
        assert_eq!((f.done(), f.ranges()), (6, 1), "{f:?}");
        let held: Vec<u64> = (0..12).filter(|&p| f.contains(p)).collect();
        assert_eq!(held, [0, 1, 2, 3, 4, 5, 9]);
        for p in [6, 7, 8] {
            f.insert(p);
        }
        assert_eq!((f.done(), f.ranges()), (10, 0), "{f:?}");
    }
}
