//! `veil pod create|ps|rm`.

use crate::cli::PodCommand;
use crate::format;
use crate::{error, fail, Outcome};
use engine::containers::Engine;
use engine::pods::Pods;

pub fn run(e: &Engine, runtime: Option<&str>, cmd: &PodCommand) -> Outcome {
    let pods = Pods::new(e);
    match cmd {
        PodCommand::Create { name, publish } => {
            for p in publish {
                engine::network::PortMapping::parse(p)?;
            }
            let runtime = engine::containers::runtime::find(runtime)?;
            let pod = pods.create(name.clone(), publish.clone(), runtime)?;
            println!("{}", pod.id);
            Ok(0)
        }
        PodCommand::Ps { format: fmt } => {
            let list = pods.list()?;
            let mut rows = Vec::new();
            for p in &list {
                let members = pods.members(p)?;
                let status = pods.status(p);
                if fmt == "json" {
                    let v = serde_json::json!({
                        "Id": p.id, "Name": p.name, "Status": status, "Created": p.created,
                        "InfraId": p.infra_id, "Containers": members.iter().map(|m| &m.name).collect::<Vec<_>>(),
                        "Ports": p.publish,
                    });
                    println!("{v}");
                } else {
                    rows.push(vec![
                        p.id[..12].to_string(),
                        p.name.clone(),
                        status.to_string(),
                        format::ago(&p.created),
                        members.len().to_string(),
                        p.infra_id[..12].to_string(),
                    ]);
                }
            }
            match fmt.as_str() {
                "json" => {}
                "table" => print!(
                    "{}",
                    format::table(
                        &[
                            "POD ID",
                            "NAME",
                            "STATUS",
                            "CREATED",
                            "# OF CONTAINERS",
                            "INFRA ID"
                        ],
                        &rows
                    )
                ),
                other => return Err(fail(format!("--format {other:?}: use table or json"))),
            }
            Ok(0)
        }
        PodCommand::Rm { force, pods: names } => {
            let mut code = 0;
            for n in names {
                match pods.remove(n, *force) {
                    Ok(p) => println!("{}", p.id),
                    Err(err) => {
                        error(&err.to_string());
                        code = if names.len() == 1 { 125 } else { 1 };
                    }
                }
            }
            Ok(code)
        }
    }
}
