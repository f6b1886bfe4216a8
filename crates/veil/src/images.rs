//! The image verbs: images, pull, load, import, rmi; and the image a
//! `veil run` needs (the built-in busybox, or pulled when missing).

use crate::format;
use crate::{fail, Failure, Outcome};
use engine::containers::Engine;
use engine::images::{archive, builtin, registry, ImageRecord, Reference};
use std::io::IsTerminal;

/// The image for `veil run`: in the store; the built-in busybox on first
/// use; else pulled, as docker does.
pub fn for_run(e: &Engine, name: &str) -> Result<ImageRecord, Failure> {
    let reference = Reference::parse(name)?;
    if let Some(img) = e.store.find(name)? {
        return Ok(img);
    }
    if reference.name_tag() == builtin::NAME {
        return Ok(builtin::ensure(&e.store)?);
    }
    eprintln!("Unable to find image '{}' locally", reference.name_tag());
    pull(e, name, false, false)
}

pub fn pull(e: &Engine, name: &str, insecure: bool, quiet: bool) -> Result<ImageRecord, Failure> {
    let reference = Reference::parse(name)?;
    e.store.gc_tmp();
    let before = e.store.find(&reference.name_tag())?.map(|i| i.id);
    let mut opts = registry::PullOptions::for_reference(&reference, !quiet);
    opts.insecure |= insecure;
    let img = registry::pull(&e.store, &reference, &opts)?;
    if !quiet {
        if let Some(d) = registry::pulled_digest(&img) {
            eprintln!("Digest: {d}");
        }
        if before.as_deref() == Some(img.id.as_str()) {
            eprintln!("Status: Image is up to date for {}", reference.name_tag());
        } else {
            eprintln!(
                "Status: Downloaded newer image for {}",
                reference.name_tag()
            );
        }
    }
    Ok(img)
}

pub fn load(e: &Engine, input: Option<&str>, quiet: bool) -> Outcome {
    e.store.gc_tmp();
    let loaded = match input {
        Some(p) if p != "-" => {
            let f = std::fs::File::open(p).map_err(|err| fail(format!("{p}: {err}")))?;
            archive::load(&e.store, std::io::BufReader::new(f))
        }
        _ => {
            if std::io::stdin().is_terminal() {
                return Err(fail(
                    "requested load from stdin, but stdin is empty: use -i FILE or a pipe",
                ));
            }
            archive::load(&e.store, std::io::stdin().lock())
        }
    }
    .map_err(|err| fail(format!("{}: {err}", input.unwrap_or("stdin"))))?;
    if !quiet {
        for img in &loaded {
            if img.tags.is_empty() {
                println!("Loaded image ID: {}", img.id);
            }
            for t in &img.tags {
                println!("Loaded image: {t}");
            }
        }
    }
    Ok(0)
}

pub fn import(e: &Engine, file: &str, name: &str) -> Outcome {
    e.store.gc_tmp();
    let img = if file == "-" {
        archive::import(&e.store, std::io::stdin().lock(), name)
    } else {
        let f = std::fs::File::open(file).map_err(|err| fail(format!("{file}: {err}")))?;
        archive::import(&e.store, std::io::BufReader::new(f), name)
    }
    .map_err(|err| fail(format!("{file}: {err}")))?;
    println!("{}", img.id);
    Ok(0)
}

pub fn list(e: &Engine, quiet: bool, fmt: &str) -> Outcome {
    let images = e.store.images()?;
    let short = |id: &str| {
        id.trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect::<String>()
    };
    let rows: Vec<(String, String, &ImageRecord)> = images
        .iter()
        .flat_map(|i| {
            if i.tags.is_empty() {
                vec![("<none>".to_string(), "<none>".to_string(), i)]
            } else {
                i.tags
                    .iter()
                    .map(|t| {
                        let (repo, tag) = t.rsplit_once(':').unwrap_or((t, "latest"));
                        (repo.to_string(), tag.to_string(), i)
                    })
                    .collect()
            }
        })
        .collect();
    if quiet {
        let mut seen = Vec::new();
        for (_, _, i) in &rows {
            if !seen.contains(&i.id) {
                println!("{}", short(&i.id));
                seen.push(i.id.clone());
            }
        }
        return Ok(0);
    }
    match fmt {
        "json" => {
            for (repo, tag, i) in &rows {
                let v = serde_json::json!({
                    "Repository": repo, "Tag": tag, "ID": short(&i.id),
                    "CreatedSince": format::ago(&i.created), "CreatedAt": i.created, "Size": format::size(i.size),
                });
                println!("{v}");
            }
        }
        "table" => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|(repo, tag, i)| {
                    vec![
                        repo.clone(),
                        tag.clone(),
                        short(&i.id),
                        format::ago(&i.created),
                        format::size(i.size),
                    ]
                })
                .collect();
            print!(
                "{}",
                format::table(
                    &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
                    &table
                )
            );
        }
        other => return Err(fail(format!("--format {other:?}: use table or json"))),
    }
    Ok(0)
}

pub fn remove(e: &Engine, names: &[String], force: bool) -> Outcome {
    let in_use: Vec<String> = e.list()?.into_iter().map(|r| r.image_id).collect();
    let mut code = 0;
    for n in names {
        match e.store.remove(n, force, &in_use) {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(err) => {
                crate::error(&err.to_string());
                code = 1;
            }
        }
    }
    Ok(code)
}
