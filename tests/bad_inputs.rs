//! The bad-input catalogue: every kind of input lambda-rollout must refuse, run
//! through the real handler (or the CLI, for text that is not JSON) against the
//! local emulator. Each case is refused in ONE line that names the problem and
//! says how to fix it, and the alias is byte-for-byte unchanged afterwards
//! (`RevisionId` included). A damaged state in the alias is not a refusal of the
//! payload but a tick that reports or holds; those cases say what is safe.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_sdk_lambda::types::{AliasRoutingConfiguration, DeadLetterConfig};
use common::{emulator, invoke_cli, sim_start, Emulator, OTHER_ROLE};
use lambda_rollout::config::Config;
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

/// Which alias a case runs against.
#[derive(Clone, Copy)]
enum On {
    /// Versions 1 (stable), 2, 3 (another role), 4 (a dead-letter queue); no rollout.
    Idle,
    /// Versions 1 and 2, a rollout of 2 at 10% in progress.
    Rolling,
    /// Versions 1 and 2, routing 2 at 10%, and this description.
    Tampered(&'static str),
}

#[derive(Clone)]
enum Input {
    /// A payload through `Handler::handle`, with the default configuration.
    Payload(Value),
    /// A payload with `LAMBDA_ROLLOUT_TARGETS` / `LAMBDA_ROLLOUT_POLICY` set.
    Configured(Option<&'static str>, Option<&'static str>, Value),
    /// Raw text through `lambda-rollout invoke -`.
    Cli(String),
    /// Raw text through `Handler::handle_bytes`, as the Lambda runtime hands it.
    Text(String),
}

enum Expect {
    /// Refused: one line holding every one of these.
    Refused(&'static [&'static str]),
    /// Not a refusal: the tick's result for the target has this decision and a
    /// reason holding every one of these, and nothing was written.
    Tick(&'static str, &'static [&'static str]),
    /// A human-style change: paused as found, routing untouched.
    PausedAsFound(&'static [&'static str]),
}

struct Case {
    name: &'static str,
    on: On,
    input: Input,
    expect: Expect,
}

/// User text (LONG is 200 characters of it) before a valid record: more
/// than Lambda's 256 in all, which the emulator stores.
const LONG: &str =
    "LONG [lambda-rollout/1 rolling green=2 blue=1 w=10 since=SINCE started=SINCE fails=0]";

fn case(name: &'static str, on: On, input: Input, expect: Expect) -> Case {
    Case {
        name,
        on,
        input,
        expect,
    }
}

fn cases(idle: &str, rolling: &str, tampered: &str) -> Vec<Case> {
    use Expect::*;
    use Input::*;
    use On::*;
    let p = |v: Value| Payload(v);
    let start = |extra: Value| {
        let mut v = json!({"action":"start","function":idle,"alias":"live"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        p(v)
    };
    let with_policy = |f: &str, policy: Value| {
        p(json!({"action":"tick","targets":[{"function":f,"alias":"live","policy":policy}]}))
    };
    let policy = |policy: Value| with_policy(idle, policy);
    let tick = p(json!({"action":"tick","targets":[{"function":tampered,"alias":"live"}]}));
    let many = |n: usize, item: Value| Value::Array(vec![item; n]);
    let metric = json!({"name":"m","namespace":"N","metric":"M","max":1});
    vec![
        // --- text that is not JSON, or far too much of it (the CLI parses raw text)
        case("not JSON", Idle, Cli("{not json".into()), Refused(&["not valid JSON", "send one JSON object"])),
        case("empty text", Idle, Cli(String::new()), Refused(&["not valid JSON", "send one JSON object"])),
        case("cut-off JSON", Idle, Cli(r#"{"action":"status","function":"f""#.into()), Refused(&["not valid JSON", "send one JSON object"])),
        case("two documents", Idle, Cli(r#"{"action":"tick"} {"action":"tick"}"#.into()), Refused(&["not valid JSON", "trailing characters"])),
        case(
            "300 KiB of text",
            Idle,
            Cli(format!(r#"{{"action":"status","function":"{idle}","alias":"live","x":"{}"}}"#, "a".repeat(300 * 1024))),
            Refused(&["over 262144 bytes", "split them over several schedules"]),
        ),
        // --- a key given twice: which one counts depends on the reader (#11)
        case(
            "action twice",
            Idle,
            Text(format!(r#"{{"action":"status","function":"{idle}","alias":"live","action":"pause"}}"#)),
            Refused(&["\"action\" is given twice at the top level", "give each key once", "nothing was written"]),
        ),
        case(
            "dry_run twice",
            Idle,
            Text(format!(r#"{{"action":"start","function":"{idle}","alias":"live","version":"2","dry_run":true,"dry_run":false}}"#)),
            Refused(&["\"dry_run\" is given twice at the top level", "give each key once"]),
        ),
        case(
            "a policy key twice",
            Idle,
            Text(format!(r#"{{"action":"start","function":"{idle}","alias":"live","version":"2","policy":{{"steps":[10,100],"steps":[100]}}}}"#)),
            Refused(&["\"steps\" is given twice in policy", "give each key once"]),
        ),
        case(
            "a target key twice",
            Idle,
            Text(format!(r#"{{"action":"tick","targets":[{{"function":"{idle}","alias":"live","alias":"other"}}]}}"#)),
            Refused(&["\"alias\" is given twice in targets[0]", "give each key once"]),
        ),
        case(
            "a key twice through the CLI",
            Idle,
            Cli(format!(r#"{{"action":"status","function":"{idle}","alias":"live","action":"rollback"}}"#)),
            Refused(&["\"action\" is given twice", "give each key once"]),
        ),
        // --- the shape of the payload
        case("a string", Idle, p(json!("tick")), Refused(&["must be a JSON object", "\"action\""])),
        case("an array", Idle, p(json!([{"action":"tick"}])), Refused(&["must be a JSON object", "got an array"])),
        case("null", Idle, p(Value::Null), Refused(&["must be a JSON object", "got null"])),
        case("no action", Idle, p(json!({"function":idle,"alias":"live"})), Refused(&["no \"action\"", "add one of tick, start"])),
        case("action a number", Idle, p(json!({"action":3})), Refused(&["\"action\" must be a string", "one of tick"])),
        case("unknown action", Idle, p(json!({"action":"deploy","function":idle,"alias":"live"})), Refused(&["unknown action \"deploy\"", "use one of"])),
        case("action in capitals", Idle, p(json!({"action":"TICK"})), Refused(&["unknown action \"TICK\"", "use one of"])),
        case(
            "a foreign EventBridge event",
            Idle,
            p(json!({"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}})),
            Refused(&["is not handled", "route only scheduled events"]),
        ),
        // --- unknown fields, at every level
        case("unknown top-level field", Idle, p(json!({"action":"promote","function":idle,"alias":"live","extra":1})), Refused(&["unknown field `extra`", "write it like"])),
        case("misspelt field", Idle, start(json!({"verison":"2"})), Refused(&["unknown field `verison`", "expected one of"])),
        case(
            "unknown field in a target",
            Idle,
            p(json!({"action":"tick","targets":[{"function":idle,"alias":"live","weight":5}]})),
            Refused(&["targets[0]", "unknown field `weight`", "a target is"]),
        ),
        case("unknown field in a policy", Idle, policy(json!({"colour":"red"})), Refused(&["unknown field `colour`", "expected one of"])),
        case(
            "unknown field in a metric gate",
            Idle,
            policy(json!({"metrics":[{"name":"m","namespace":"N","metric":"M","max":1,"color":1}]})),
            Refused(&["policy.metrics[0]", "unknown field `color`", "expected one of"]),
        ),
        // --- wrong types for every kind of field
        case("version a boolean", Idle, start(json!({"version":true})), Refused(&["version must be a number", "such as 7"])),
        case("version an object", Idle, start(json!({"version":{"n":2}})), Refused(&["version must be a number", "got an object"])),
        case("force a string", Idle, start(json!({"force":"yes"})), Refused(&["force: invalid type: string \"yes\"", "expected a boolean"])),
        case("dry_run a number", Idle, p(json!({"action":"tick","dry_run":1})), Refused(&["dry_run: invalid type: integer", "expected a boolean"])),
        case("targets an object", Idle, p(json!({"action":"tick","targets":{"function":idle,"alias":"live"}})), Refused(&["targets: invalid type: map", "expected a sequence"])),
        case(
            "function a number",
            Idle,
            p(json!({"action":"tick","targets":[{"function":42,"alias":"live"}]})),
            Refused(&["targets[0]: function: invalid type: integer", "expected a string"]),
        ),
        case("reason a number", Idle, p(json!({"action":"rollback","function":idle,"alias":"live","reason":42})), Refused(&["reason: invalid type: integer", "expected a string"])),
        case("steps a string", Idle, policy(json!({"steps":"10,50"})), Refused(&["policy.steps: invalid type: string", "expected a sequence"])),
        case("a step as a string", Idle, policy(json!({"steps":[10,"25"]})), Refused(&["policy.steps[1]: invalid type: string \"25\"", "expected f64"])),
        case("min_invocations a string", Idle, policy(json!({"min_invocations":"50"})), Refused(&["policy.min_invocations: invalid type: string", "expected u64"])),
        case("min_invocations negative", Idle, policy(json!({"min_invocations":-5})), Refused(&["policy.min_invocations: invalid value: integer `-5`", "expected u64"])),
        case("auto_start a string", Idle, policy(json!({"auto_start":"true"})), Refused(&["policy.auto_start: invalid type: string", "expected a boolean"])),
        case("alarms an object", Idle, policy(json!({"alarms":{"a":1}})), Refused(&["policy.alarms: invalid type: map", "expected a sequence"])),
        case("bake a number", Idle, policy(json!({"bake":5})), Refused(&["policy.bake: invalid type: integer `5`", "expected a string"])),
        case(
            "policy an array",
            Idle,
            p(json!({"action":"status","function":idle,"alias":"live","policy":[]})),
            Refused(&["policy must be an object", "such as {\"steps\""]),
        ),
        case("a policy as an array of its fields", Idle, policy(json!(["AllAtOnce"])), Refused(&["targets[0].policy must be an object", "got an array"])),
        case("a target as an array", Idle, p(json!({"action":"tick","targets":[[idle,"live"]]})), Refused(&["targets[0] must be an object", "{\"function\": \"F\""])),
        case("a metric gate as an array", Idle, policy(json!({"metrics":[["m","N","M"]]})), Refused(&["policy.metrics[0] must be an object", "got an array"])),
        // --- steps
        case("no steps", Idle, policy(json!({"steps":[]})), Refused(&["policy.steps", "give at least one step"])),
        case("steps decreasing", Idle, policy(json!({"steps":[50,20]})), Refused(&["strictly increasing", "20% follows 50%"])),
        case("a step repeated", Idle, policy(json!({"steps":[10,10]})), Refused(&["strictly increasing", "10% follows 10%"])),
        case("a step over 100", Idle, policy(json!({"steps":[10,120]})), Refused(&["step 120 is out of range", "at most 100"])),
        case("a zero step", Idle, policy(json!({"steps":[0,50]})), Refused(&["step 0 is out of range", "above 0"])),
        case("a negative step", Idle, policy(json!({"steps":[-5,50]})), Refused(&["step -5 is out of range", "above 0"])),
        case("101 steps", Idle, policy(json!({"steps":(1..=101).map(|i| f64::from(i) * 0.5).collect::<Vec<_>>()})), Refused(&["policy.steps", "at most 100 steps"])),
        case("steps and a preset", Idle, policy(json!({"steps":[10],"preset":"AllAtOnce"})), Refused(&["policy.preset", "not both"])),
        case("unknown preset", Idle, policy(json!({"preset":"Canary50Percent"})), Refused(&["unknown preset \"Canary50Percent\"", "use one of Canary10Percent5Minutes"])),
        // --- steps that round to a weight other than the one written (#11)
        case("a step that rounds to 0%", Idle, start(json!({"version":"2","policy":{"steps":[0.001]}})), Refused(&["step 0.001 is finer than a hundredth of a percent", "stored as 0%", "give steps such as 0.01"])),
        case("a first step that rounds to 0%", Idle, start(json!({"version":"2","policy":{"steps":[0.001,50]}})), Refused(&["step 0.001 is finer", "stored as 0%"])),
        case("0.004 then 100", Idle, start(json!({"version":"2","policy":{"steps":[0.004,100]}})), Refused(&["step 0.004 is finer", "stored as 0%"])),
        case("a step of 1e-300", Idle, start(json!({"version":"2","policy":{"steps":[1e-300]}})), Refused(&["step 1e-300 is finer", "stored as 0%"])),
        case("a step finer than kept", Idle, policy(json!({"steps":[10.005,50]})), Refused(&["step 10.005 is finer", "policy.steps"])),
        // --- durations
        case("bake malformed", Idle, policy(json!({"bake":"soon"})), Refused(&["policy.bake", "write it like \"30s\""])),
        case("bake negative", Idle, policy(json!({"bake":"-5m"})), Refused(&["policy.bake", "write it like \"30s\""])),
        case("bake a fraction", Idle, policy(json!({"bake":"1.5s"})), Refused(&["fraction of a second", "use whole seconds"])),
        case("bake over a week", Idle, policy(json!({"bake":"30d"})), Refused(&["policy.bake", "at most 7 days"])),
        case("bake beyond any clock", Idle, policy(json!({"bake":"99999999999999999999999h"})), Refused(&["policy.bake", "write it like \"30s\""])),
        case("metric_lag over an hour", Idle, policy(json!({"metric_lag":"2h"})), Refused(&["policy.metric_lag", "at most 1h"])),
        // --- versions
        case("$LATEST", Idle, start(json!({"version":"$LATEST"})), Refused(&["\"$LATEST\" cannot be rolled out", "publish-version"])),
        case("a version name", Idle, start(json!({"version":"v2"})), Refused(&["\"v2\" is not a published version number", "such as \"7\""])),
        case("version 0", Idle, start(json!({"version":0})), Refused(&["version 0 does not exist", "start at 1"])),
        case("version negative", Idle, start(json!({"version":-1})), Refused(&["version \"-1\" is not a published version number", "whole number from 1"])),
        case("version a fraction", Idle, start(json!({"version":1.5})), Refused(&["is not a published version number", "whole number from 1"])),
        case("version beyond u64", Idle, start(json!({"version":"99999999999999999999999"})), Refused(&["is not a published version number", "list-versions-by-function"])),
        case("version huge", Idle, start(json!({"version":u64::MAX})), Refused(&["does not exist for this function (newest published: 4)", "publish it"])),
        case("version unpublished", Idle, start(json!({"version":"9"})), Refused(&["version 9 does not exist", "publish it"])),
        case("the stable version", Idle, start(json!({"version":"1"})), Refused(&["already the stable version", "nothing to roll out"])),
        case("another version while rolling", Rolling, p(json!({"action":"start","function":rolling,"alias":"live","version":"3"})), Refused(&["rollout of version 2 is in progress", "promote or rollback it"])),
        // --- what an alias can route to
        case("different execution roles", Idle, start(json!({"version":"3"})), Refused(&["different execution roles", "publish 3 with role"])),
        case("different dead-letter queues", Idle, start(json!({"version":"4"})), Refused(&["different dead-letter queues", "publish 4 with the dead-letter config of 1"])),
        // --- missing or malformed function / alias
        case("function missing", Idle, p(json!({"action":"status","function":format!("{idle}-missing"),"alias":"live"})), Refused(&["does not exist in this account and region", "check the name and AWS_REGION"])),
        case("alias missing", Idle, p(json!({"action":"status","function":idle,"alias":"nope"})), Refused(&["alias nope of function", "aws lambda create-alias"])),
        case("start on a missing alias", Idle, p(json!({"action":"start","function":idle,"alias":"canary","version":"2"})), Refused(&["does not exist", "create-alias"])),
        case("empty function", Idle, p(json!({"action":"rollback","function":"","alias":"live"})), Refused(&["is not a Lambda function name", "use the name"])),
        case("alias $LATEST", Idle, p(json!({"action":"promote","function":idle,"alias":"$LATEST"})), Refused(&["is not a Lambda alias name", "1 to 128 letters"])),
        // --- function names and ARNs as Lambda takes them (#11)
        case("a function name of 65 characters", Idle, p(json!({"action":"status","function":"f".repeat(65),"alias":"live"})), Refused(&["the name is 65 characters, at most 64", "use the name"])),
        case("a function ARN of 141 characters", Idle, p(json!({"action":"status","function":format!("arn:aws:lambda:us-east-1:000000000000:function:{}", "f".repeat(94)),"alias":"live"})), Refused(&["141 characters", "at most 140 for an ARN"])),
        case("an ARN of another account", Idle, p(json!({"action":"start","function":format!("arn:aws:lambda:us-east-1:111111111111:function:{idle}"),"alias":"live","version":"2"})), Refused(&["is not in the account and region lambda-rollout works in", "account 000000000000", "111111111111"])),
        case("an ARN of another region", Idle, p(json!({"action":"rollback","function":format!("arn:aws:lambda:eu-west-1:000000000000:function:{idle}"),"alias":"live"})), Refused(&["is not in the account and region", "region us-east-1"])),
        case("a partial ARN of another account", Idle, p(json!({"action":"status","function":format!("111111111111:function:{idle}"),"alias":"live"})), Refused(&["is not in the account and region", "111111111111"])),
        case("a qualifier naming another alias", Idle, p(json!({"action":"start","function":format!("{idle}:prod"),"alias":"live","version":"2"})), Refused(&["names alias \"prod\", but the alias is \"live\"", "give the unqualified function"])),
        case("a qualifier naming a version", Idle, p(json!({"action":"promote","function":format!("{idle}:2"),"alias":"live"})), Refused(&["names version \"2\"", "give the unqualified function"])),
        case("an ARN of another service", Idle, p(json!({"action":"status","function":format!("arn:aws:sqs:us-east-1:000000000000:function:{idle}"),"alias":"live"})), Refused(&["an ARN of another service", "use the name"])),
        case(
            "a target by name and by ARN",
            Idle,
            p(json!({"action":"tick","targets":[{"function":idle,"alias":"live"},{"function":format!("arn:aws:lambda:us-east-1:000000000000:function:{idle}"),"alias":"live"}]})),
            Refused(&["targets[1]", "appears twice", "give each alias once"]),
        ),
        case("function name of 10,000 characters", Idle, p(json!({"action":"status","function":"f".repeat(10_000),"alias":"live"})), Refused(&["(10000 characters) is not a Lambda function name", "use the name"])),
        // --- every manual action with a field missing
        case("start without alias", Idle, p(json!({"action":"start","function":idle})), Refused(&["start: missing field `alias`", "write it like {\"action\":\"start\""])),
        case("promote without alias", Idle, p(json!({"action":"promote","function":idle})), Refused(&["promote: missing field `alias`", "write it like"])),
        case("rollback without function", Idle, p(json!({"action":"rollback","alias":"live"})), Refused(&["rollback: missing field `function`", "write it like"])),
        case("pause with nothing", Idle, p(json!({"action":"pause"})), Refused(&["pause: missing field `function`", "write it like"])),
        case("resume without alias", Idle, p(json!({"action":"resume","function":idle})), Refused(&["resume: missing field `alias`", "write it like"])),
        case("status without function", Idle, p(json!({"action":"status","alias":"live"})), Refused(&["status: missing field `function`", "write it like"])),
        case("a target without alias", Idle, p(json!({"action":"tick","targets":[{"function":idle}]})), Refused(&["targets[0]: missing field `alias`", "a target is"])),
        case("a reason too long", Idle, p(json!({"action":"rollback","function":idle,"alias":"live","reason":"x".repeat(500)})), Refused(&["reason is 500 characters long", "keep it to 200"])),
        // --- too much
        case(
            "a megabyte of targets",
            Idle,
            p(json!({"action":"tick","targets":many(20_000, json!({"function":idle,"alias":"live"}))})),
            Refused(&["over 262144 bytes", "split them over several schedules"]),
        ),
        // --- keys of any length are never echoed whole (#11)
        case("an unknown policy key of 10,000 characters", Idle, start(json!({"version":"2","policy":{"k".repeat(10_000):1}})), Refused(&["unknown field `kkkk", "expected one of"])),
        case("an unknown policy key of 200,000 characters", Idle, policy(serde_json::Map::from_iter([("k".repeat(200_000), json!(1))]).into()), Refused(&["unknown field `kkkk", "expected one of"])),
        case("an unknown top-level key of 100,000 characters", Idle, p(json!({"action":"status","function":idle,"alias":"live","k".repeat(100_000):1})), Refused(&["unknown field `kkkk", "write it like"])),
        case("a wrong type under a key of 100,000 characters", Idle, policy(json!({"metrics":[{"name":"m","expression":"a","max":1,"inputs":{"k".repeat(100_000):{"namespace":"N","metric":"M","stat":5}}}]})), Refused(&["policy.metrics[0].inputs.kkkk", "invalid type"])),
        case("an input of 100,000 characters that is not an object", Idle, policy(json!({"metrics":[{"name":"m","expression":"a","max":1,"inputs":{"k".repeat(100_000):5}}]})), Refused(&["must be an object", "got a number"])),
        case("a 300 KiB string", Idle, p(json!({"action":"x".repeat(300 * 1024)})), Refused(&["over 262144 bytes", "nothing was read or written"])),
        case(
            "1001 targets",
            Idle,
            p(json!({"action":"tick","targets":(0..1001).map(|i| json!({"function":format!("f{i}"),"alias":"live"})).collect::<Vec<_>>()})),
            Refused(&["1001 targets in one tick", "split them over several schedules"]),
        ),
        case(
            "a target twice",
            Idle,
            p(json!({"action":"tick","targets":[{"function":idle,"alias":"live"},{"function":idle,"alias":"live"}]})),
            Refused(&["appears twice", "give each alias once"]),
        ),
        case("21 custom metrics", Idle, policy(json!({"metrics":many(21, metric.clone())})), Refused(&["policy.metrics", "at most 20 metrics"])),
        case("101 alarms", Idle, policy(json!({"alarms":(0..101).map(|i| format!("a{i}")).collect::<Vec<_>>()})), Refused(&["policy.alarms", "at most 100 alarms"])),
        case("an empty alarm name", Idle, policy(json!({"alarms":[""]})), Refused(&["is not an alarm name", "give 1 to 255 characters"])),
        case(
            "an expression with 11 inputs",
            Idle,
            policy(json!({"metrics":[{"name":"m","expression":"a","max":1,"inputs":(0..11).map(|i| (format!("i{i}"), json!({"namespace":"N","metric":"M"}))).collect::<serde_json::Map<_, _>>()}]})),
            Refused(&["policy.metrics", "needs 1 to 10 inputs"]),
        ),
        // --- the environment's policy and targets
        case(
            "LAMBDA_ROLLOUT_POLICY not valid",
            Idle,
            Configured(None, Some(r#"{"steps":[50,10]}"#), json!({"action":"start","function":idle,"alias":"live"})),
            Refused(&["LAMBDA_ROLLOUT_POLICY: policy.steps", "fix the function's LAMBDA_ROLLOUT_POLICY environment variable"]),
        ),
        case(
            "LAMBDA_ROLLOUT_POLICY not JSON",
            Idle,
            Configured(None, Some("steps=10,50"), json!({"action":"status","function":idle,"alias":"live"})),
            Refused(&["LAMBDA_ROLLOUT_POLICY: not a policy object", "fix the function's"]),
        ),
        case(
            "LAMBDA_ROLLOUT_POLICY with a wrong type",
            Idle,
            Configured(None, Some(r#"{"bake":300}"#), json!({"action":"tick","targets":[{"function":idle,"alias":"live"}]})),
            Refused(&["LAMBDA_ROLLOUT_POLICY: not a policy object (bake: invalid type", "fix the function's"]),
        ),
        case(
            "LAMBDA_ROLLOUT_TARGETS an object",
            Idle,
            Configured(Some(r#"{"function":"f","alias":"live"}"#), None, json!({"detail-type":"Scheduled Event","source":"aws.events","detail":{}})),
            Refused(&["LAMBDA_ROLLOUT_TARGETS: not a JSON array of targets", "fix the function's"]),
        ),
        case(
            "LAMBDA_ROLLOUT_TARGETS with a bad policy",
            Idle,
            Configured(Some(r#"[{"function":"f","alias":"live","policy":{"steps":[10,200]}}]"#), None, json!({"action":"tick"})),
            Refused(&["LAMBDA_ROLLOUT_TARGETS: targets[0] (f:live): policy.steps", "fix the function's"]),
        ),
        case(
            "no targets configured",
            Idle,
            Configured(None, None, json!({"action":"tick"})),
            Refused(&["no targets configured", "send a tick with \"targets\""]),
        ),
        // --- a damaged state in the alias's description
        case("record edited to nonsense", Tampered("[lambda-rollout/1 rolling green=banana]"), tick.clone(), Tick("error", &["unreadable lambda-rollout state", "run the rollback action"])),
        case("record with an unknown field", Tampered("notes [lambda-rollout/1 rolling green=2 blue=1 w=10 since=SINCE started=SINCE fails=0 colour=red]"), tick.clone(), Tick("error", &["unknown field \"colour\"", "run the rollback action"])),
        case("record of a future format", Tampered("[lambda-rollout/2 rolling green=2 blue=1]"), tick.clone(), Tick("error", &["format version \"2\"", "run the rollback action"])),
        case("record with a count that is not one", Tampered("[lambda-rollout/1 rolling green=2 blue=1 w=10 since=SINCE started=SINCE fails=abc]"), tick.clone(), Tick("error", &["fails=abc is not a count", "run the rollback action"])),
        case("record with a huge version", Tampered("[lambda-rollout/1 rolling green=99999999999999999999999 blue=1 w=10 since=SINCE started=SINCE fails=0]"), tick.clone(), Tick("error", &["is not a published version number", "run the rollback action"])),
        case("record with a weight of 0", Tampered("[lambda-rollout/1 rolling green=2 blue=1 w=0 since=SINCE started=SINCE fails=0]"), tick.clone(), Tick("error", &["w=0 is not between 0 and 100", "run the rollback action"])),
        case("record with a future since", Tampered("[lambda-rollout/1 rolling green=2 blue=1 w=10 since=2099-01-01T00:00:00Z started=SINCE fails=0]"), tick.clone(), Tick("held", &["is in the future", "pause and resume to restart the step"])),
        case("record whose weight disagrees with the routing", Tampered("[lambda-rollout/1 rolling green=2 blue=1 w=25 since=SINCE started=SINCE fails=0]"), tick.clone(), PausedAsFound(&["changed outside lambda-rollout (recorded 2 at 25% over 1, found 2 at 10% over 1)", "resume to continue from 10%"])),
        case("a description over 256 characters", Tampered(LONG), tick.clone(), Tick("held", &["too few invocations to judge", "version 2 at 10%"])),
        case("status of a nonsense record", Tampered("[lambda-rollout/1 paused green]"), p(json!({"action":"status","function":tampered,"alias":"live"})), Refused(&["unreadable lambda-rollout state", "run the rollback action"])),
        case("pause of a nonsense record", Tampered("[lambda-rollout/1 paused green]"), p(json!({"action":"pause","function":tampered,"alias":"live"})), Refused(&["\"green\" is not key=value", "run the rollback action"])),
        case("resume of a record with two", Tampered("[lambda-rollout/1 idle rb=2] [lambda-rollout/1 idle rb=3]"), p(json!({"action":"resume","function":tampered,"alias":"live"})), Refused(&["more than one record", "run the rollback action"])),
    ]
}

#[tokio::test]
async fn every_bad_input_is_one_line_that_says_how_to_fix_it_and_changes_nothing() {
    let em = emulator().await;
    let t0 = sim_start();
    let cfg = Config::from_values(None, None);

    let idle = em.blue_green("bad-idle").await;
    em.publish_with_role(&idle, "other role", OTHER_ROLE).await; // 3
    dead_letter_queue(&em, &idle).await;
    assert_eq!(em.publish(&idle, "with a dead-letter queue").await, "4");

    let rolling = em.blue_green("bad-rolling").await;
    em.publish(&rolling, "version 3").await;
    em.run(
        &cfg,
        json!({"action":"start","function":rolling,"alias":"live","version":"2"}),
        t0,
    )
    .await;

    let tampered = em.blue_green("bad-tampered").await;

    let mut wrong = Vec::new();
    let all = cases(&idle, &rolling, &tampered);
    assert!(all.len() >= 40, "{} cases", all.len());
    for c in all {
        let f = match c.on {
            On::Idle => idle.as_str(),
            On::Rolling => rolling.as_str(),
            On::Tampered(description) => {
                let since = UtcTime::from_unix(t0.unix() - 600).to_string();
                let description = description
                    .replace("SINCE", &since)
                    .replace("LONG", &"x".repeat(200));
                set_alias(&em, &tampered, &description).await;
                tampered.as_str()
            }
        };
        let before = em.alias_raw(f, "live").await;
        let name = c.name;
        match (c.input, c.expect) {
            (Input::Cli(text), Expect::Refused(want)) => {
                let line = cli_refusal(&text, name);
                says(name, &line, want, &mut wrong);
            }
            (Input::Text(text), Expect::Refused(want)) => {
                let e = em
                    .handler(cfg.clone())
                    .handle_bytes(text.as_bytes(), t0)
                    .await;
                let line = e
                    .err()
                    .unwrap_or_else(|| panic!("{name}: accepted"))
                    .to_string();
                says(name, &line, want, &mut wrong);
            }
            (Input::Payload(v), Expect::Refused(want)) => {
                let e = em.handler(cfg.clone()).handle(&v, t0).await;
                let line = e
                    .err()
                    .unwrap_or_else(|| panic!("{name}: accepted"))
                    .to_string();
                says(name, &line, want, &mut wrong);
            }
            (Input::Configured(targets, policy, v), Expect::Refused(want)) => {
                let h = em.handler(Config::from_values(targets, policy));
                let e = h.handle(&v, t0).await;
                let line = e
                    .err()
                    .unwrap_or_else(|| panic!("{name}: accepted"))
                    .to_string();
                says(name, &line, want, &mut wrong);
            }
            (Input::Payload(v), Expect::Tick(decision, want)) => {
                let r = em.run(&cfg, v, t0).await;
                assert_eq!(r["results"][0]["decision"], decision, "{name}: {r}");
                says(
                    name,
                    r["results"][0]["reason"].as_str().unwrap(),
                    want,
                    &mut wrong,
                );
            }
            (Input::Payload(v), Expect::PausedAsFound(want)) => {
                let r = em.run(&cfg, v, t0).await;
                assert_eq!(r["results"][0]["decision"], "paused", "{name}: {r}");
                says(
                    name,
                    r["results"][0]["reason"].as_str().unwrap(),
                    want,
                    &mut wrong,
                );
                let after = em.alias_raw(f, "live").await;
                assert_eq!(
                    (&after.function_version, &after.weights),
                    (&before.function_version, &before.weights),
                    "{name}: the routing stands as found"
                );
                assert!(
                    after.description.contains(" paused "),
                    "{name}: {}",
                    after.description
                );
                continue;
            }
            _ => unreachable!("{name}: no such combination"),
        }
        assert_eq!(
            em.alias_raw(f, "live").await,
            before,
            "{name}: the alias changed"
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Sets the tampered alias by hand: version 1, 2 at 10%, this description.
async fn set_alias(em: &Emulator, f: &str, description: &str) {
    em.lambda
        .update_alias()
        .function_name(f)
        .name("live")
        .function_version("1")
        .routing_config(
            AliasRoutingConfiguration::builder()
                .additional_version_weights("2", 0.1)
                .build(),
        )
        .description(description)
        .send()
        .await
        .expect("update_alias by hand");
}

/// The next version published gets a dead-letter queue (the stable one has none).
async fn dead_letter_queue(em: &Emulator, f: &str) {
    em.lambda
        .update_function_configuration()
        .function_name(f)
        .dead_letter_config(
            DeadLetterConfig::builder()
                .target_arn("arn:aws:sqs:us-east-1:000000000000:rollout-dlq")
                .build(),
        )
        .send()
        .await
        .expect("dead-letter config");
    em.wait_updated(f).await;
}

/// One line, naming the problem and the fix; what is missing goes to `wrong`.
fn says(name: &str, line: &str, want: &[&str], wrong: &mut Vec<String>) {
    if line.contains('\n') {
        wrong.push(format!("{name}: more than one line: {line}"));
    }
    if line.chars().count() > 1000 {
        wrong.push(format!("{name}: {} characters", line.chars().count()));
    }
    for w in want {
        if !line.contains(w) {
            wrong.push(format!("{name}: {w:?} not in: {line}"));
        }
    }
}

/// `lambda-rollout invoke -` on raw text: exit 1, nothing on stdout, one line
/// on stderr.
fn cli_refusal(text: &str, name: &str) -> String {
    let out = invoke_cli(env!("CARGO_BIN_EXE_lambda-rollout"), &["invoke", "-"], text);
    assert_eq!(out.status.code(), Some(1), "{name}");
    assert!(out.stdout.is_empty(), "{name}");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let line = err.strip_suffix('\n').unwrap_or(&err).to_string();
    assert!(line.starts_with("lambda-rollout: "), "{name}: {err}");
    line
}

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_never_hold_a_payload() {
    use lambda_runtime::tracing::subscriber::filter::LevelFilter;
    let em = emulator().await;
    let f = em.blue_green("bad-logs").await;
    let logs = Captured::default();
    let sink = logs.clone();
    // The production subscriber, at TRACE, JSON as in Lambda.
    let _guard = tracing::subscriber::set_default(lambda_rollout::logging::subscriber(
        move || sink.clone(),
        true,
        LevelFilter::TRACE,
    ));
    let marker = "PAYLOAD-MARKER-7f3a";
    let h = em.handler(Config::from_values(None, None));
    let t0 = sim_start();
    let bad = [
        json!({"action":"start","function":f,"alias":"live","policy":{"bake":marker}}),
        json!({"action":"tick","targets":[{"function":f,"alias":"live","policy":{"alarms":[marker.repeat(20)]}}]}),
        json!({"action":"status","function":f,"alias":"live","note":marker.repeat(100_000)}),
    ];
    for p in &bad {
        assert!(h.handle(p, t0).await.is_err(), "{p}");
    }
    assert!(h
        .handle_bytes(format!("{{\"action\":\"{marker}\"").as_bytes(), t0)
        .await
        .is_err());
    // A good tick is logged (so the capture works), as fields.
    let tick = json!({"action":"tick","targets":[{"function":f,"alias":"live"}]});
    h.handle(&tick, t0).await.unwrap();
    // lambda_runtime logs each raw event at TRACE: that must not get through.
    tracing::trace!(
        target: "lambda_runtime::layers::api_response",
        body = marker,
        "raw JSON event received from Lambda"
    );
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("\"decision\":\"idle\""), "{text}");
    assert!(!text.contains(marker), "a payload was logged: {text}");
    if let Ok(secret) = std::env::var("AWS_SECRET_ACCESS_KEY") {
        assert!(
            secret.len() < 6 || !text.contains(&secret),
            "a credential was logged"
        );
    }
}
