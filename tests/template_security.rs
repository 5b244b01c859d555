//! template.yaml's permissions, checked: no `*` action, Lambda actions only on the
//! managed functions (by name, or by the onboarding tag's aws:ResourceTag
//! condition), `Resource: "*"` only where AWS offers nothing narrower, no
//! public principal, no parameter that could widen a grant at deploy time.
//!
//! The template is read with a YAML event parser that keeps CloudFormation's
//! short tags (`!Sub`, `!Ref`, ...), and every resource expression is evaluated
//! with placeholders for parameters and pseudo parameters, so the check sees
//! the ARNs a deployed stack would grant, not just the text.

use saphyr_parser::{Event, Parser};

// ---------------------------------------------------------------- the checks

/// Actions that AWS offers no resource-level permission for: `Resource: "*"`
/// is the only form IAM accepts, so it is allowed for exactly these.
const STAR_RESOURCE_OK: &[(&str, &str)] = &[
    (
        "cloudwatch:GetMetricData",
        "no resource-level permissions exist for it, and it only reads metrics",
    ),
    (
        "tag:GetResources",
        "no resource-level permissions exist for it, and it only lists tags",
    ),
];

/// A `*` inside a resource's own name, allowed for these actions only.
const WILDCARD_NAME_OK: &[(&str, &str, &str)] = &[
    (
        "cloudwatch:DescribeAlarms",
        ":alarm:*",
        "gate alarms are named in policies at run time; reading their state changes nothing",
    ),
    (
        "ssm:GetParameters",
        ":parameter/lambda-rollout/*",
        "the teams' policy parameters, named by their tags at run time, under one prefix",
    ),
];

/// The onboarding tag: `function:*` is allowed to a statement whose
/// Condition asks for it with a value (`StringLike` `"?*"`), which holds the
/// grant to the functions a team tagged.
const ONBOARDING_TAG_KEY: &str = "aws:ResourceTag/lambda-rollout:alias";

/// The parameter whose names the Lambda permissions must be scoped to.
const MANAGED: &str = "ManagedFunctionNames";
/// The hooks' names: lambda:InvokeFunction may be granted on these too.
const HOOKS: &str = "HookFunctionNames";

/// Values a parameter substituted into a resource must refuse.
const WILDCARD_PROBES: &[&str] = &[
    "*",
    "a*",
    "arn:aws:events:us-east-1:111122223333:event-bus/*",
    "arn:aws:sns:us-east-1:111122223333:*",
    "arn:aws:lambda:us-east-1:111122223333:function:*",
    "arn:aws:*:*:*:*",
];

const PARTITION: &str = "aws";
const REGION: &str = "region-1";
const ACCOUNT: &str = "111122223333";

#[test]
fn template_grants_only_what_lambda_rollout_needs() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml");
    let problems = check(&text).unwrap_or_else(|e| panic!("template.yaml: {e}"));
    assert!(
        problems.is_empty(),
        "template.yaml grants too much:\n{}",
        problems.join("\n")
    );
    // The check must have seen the grants it is about, or it proves nothing.
    let t = Template::parse(&text).unwrap();
    let mut seen = Vec::new();
    t.statements(&mut seen, &mut Vec::new());
    let actions: Vec<String> = seen.iter().flat_map(|s| s.actions.clone()).collect();
    for a in [
        "lambda:UpdateAlias",
        "cloudwatch:GetMetricData",
        "lambda:InvokeFunction",
        "tag:GetResources",
        "ssm:GetParameters",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} not found: {actions:?}");
    }
}

/// #13: what CloudFormation documents of its intrinsic functions and the
/// emulator's CloudFormation does not enforce (a stack whose Fn::Join
/// delimiter was an Fn::Sub reached CREATE_COMPLETE there; AWS refuses it).
#[test]
fn template_keeps_to_the_documented_intrinsic_function_rules() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml");
    let t = Template::parse_unexpanded(&text).expect("template.yaml");
    let problems = intrinsic_problems(&t.root);
    assert!(
        problems.is_empty(),
        "template.yaml breaks CloudFormation's rules:\n{}",
        problems.join("\n")
    );
}

/// Where a template uses an intrinsic function in a way CloudFormation's
/// documentation forbids, one line each. The rules, from each function's
/// page of the CloudFormation User Guide:
/// - Fn::Join, Fn::Split: "For the delimiter, you can't use any functions.
///   You must specify a string value."
/// - Fn::Sub: "For the String parameter, you can't use any functions."
/// - Ref: "You can't use any functions in the Ref function. You must specify
///   a string that's a resource logical ID" (or a parameter's name).
/// - Fn::GetAtt: the logical name must be a string (the attribute may be a Ref).
/// - Fn::Select: the index is a number, a Ref or a Fn::FindInMap.
/// - Fn::If: the condition's name is a string.
/// - Fn::ForEach: the identifier is a string, and every output key uses it
///   (`${Id}` or `&{Id}`), or the copies would collide.
fn intrinsic_problems(root: &Node) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, "", &mut |path, n| {
        if let Node::Map(m) = n {
            for (k, v) in m.iter().filter(|(k, _)| k.starts_with("Fn::ForEach::")) {
                let at = format!("{path}.{k}");
                match v {
                    Node::Seq(p) if p.len() == 3 => {
                        let Some(id) = p[0].str() else {
                            out.push(format!("{at}: the identifier must be a string"));
                            continue;
                        };
                        if let Node::Map(body) = &p[2] {
                            for (key, _) in body {
                                let uses = key.contains(&format!("${{{id}}}"))
                                    || key.contains(&format!("&{{{id}}}"));
                                if !uses {
                                    out.push(format!(
                                        "{at}: output key {key:?} must use ${{{id}}} or &{{{id}}}"
                                    ));
                                }
                            }
                        } else {
                            out.push(format!("{at}: the third element is a mapping of outputs"));
                        }
                    }
                    _ => out.push(format!("{at}: takes [identifier, collection, outputs]")),
                }
            }
        }
        let Node::Fn(f, arg) = n else { return };
        let literal = |n: &Node| matches!(n, Node::Str(_));
        let problem = match (f.as_str(), &**arg) {
            ("Fn::Join", Node::Seq(a)) if a.len() == 2 && !literal(&a[0]) => {
                Some("Fn::Join's delimiter must be a plain string, not a function")
            }
            ("Fn::Split", Node::Seq(a)) if a.len() == 2 && !literal(&a[0]) => {
                Some("Fn::Split's delimiter must be a plain string, not a function")
            }
            ("Fn::Sub", Node::Seq(a)) if !a.is_empty() && !literal(&a[0]) => {
                Some("Fn::Sub's string must be a plain string, not a function")
            }
            ("Fn::Sub", other) if !literal(other) && !matches!(other, Node::Seq(_)) => {
                Some("Fn::Sub takes a string, or [string, {variables}]")
            }
            ("Ref", other) if !literal(other) => Some("Ref takes a name, not a function"),
            ("Fn::GetAtt", Node::Seq(a)) if a.len() == 2 && !literal(&a[0]) => {
                Some("Fn::GetAtt's logical name must be a plain string")
            }
            ("Fn::GetAtt", Node::Seq(a)) if a.len() != 2 => {
                Some("Fn::GetAtt takes [logical name, attribute]")
            }
            ("Fn::Select", Node::Seq(a))
                if a.len() == 2
                    && !literal(&a[0])
                    && !matches!(&a[0], Node::Fn(g, _) if g == "Ref" || g == "Fn::FindInMap") =>
            {
                Some("Fn::Select's index must be a number, a Ref or a Fn::FindInMap")
            }
            ("Fn::If", Node::Seq(a)) if a.len() == 3 && !literal(&a[0]) => {
                Some("Fn::If's condition must be a condition's name")
            }
            ("Fn::Join" | "Fn::Split" | "Fn::Select" | "Fn::If", other)
                if !matches!(other, Node::Seq(_)) =>
            {
                Some("takes a list of arguments")
            }
            _ => None,
        };
        if let Some(p) = problem {
            out.push(format!("{path}: {p}"));
        }
    });
    out
}

/// Every problem in a template, one line each; `Err` if it cannot be read.
fn check(yaml: &str) -> Result<Vec<String>, String> {
    let t = Template::parse(yaml)?;
    let mut problems = Vec::new();
    let mut statements = Vec::new();
    t.statements(&mut statements, &mut problems);
    for s in &statements {
        t.check_statement(s, &mut problems);
    }
    t.check_permissions(&mut problems);
    t.check_managed_parameter(&mut problems);
    Ok(problems)
}

/// One IAM statement, wherever it was found.
#[derive(Debug)]
struct Statement {
    at: String,
    actions: Vec<String>,
    resource: Option<Node>,
    principal: Option<Node>,
    condition: Option<Node>,
    allow: bool,
    not: Vec<&'static str>,
}

impl Template {
    fn check_statement(&self, s: &Statement, out: &mut Vec<String>) {
        let at = &s.at;
        for n in &s.not {
            if s.allow {
                out.push(format!(
                    "{at}: {n} with Allow grants everything not listed: list what is allowed"
                ));
            }
        }
        for a in &s.actions {
            let svc_star = a.split_once(':').is_some_and(|(_, op)| op == "*");
            if a == "*" || svc_star {
                out.push(format!(
                    "{at}: action {a:?} grants a whole service: name the actions"
                ));
            }
        }
        if let Some(p) = &s.principal {
            if self.public(p) {
                out.push(format!(
                    "{at}: principal \"*\" lets anyone in: name the service or account"
                ));
            }
        }
        let Some(resource) = &s.resource else {
            if s.principal.is_none() {
                out.push(format!("{at}: no Resource: scope it"));
            }
            return;
        };
        let arns = match self.resources(resource) {
            Ok(a) => a,
            Err(e) => {
                out.push(format!(
                    "{at}: cannot evaluate the Resource ({e}): simplify it"
                ));
                return;
            }
        };
        let pinned = self.region_pinned(s);
        let tagged = self.tag_scoped(s);
        for arn in &arns {
            for a in &s.actions {
                if let Err(e) = self.resource_ok(a, arn, pinned, tagged) {
                    out.push(format!("{at}: {a} on {arn}: {e}"));
                }
            }
            if let Err(e) = self.parameters_in(arn) {
                let line = format!("{at}: {e}");
                if !out.contains(&line) {
                    out.push(line);
                }
            }
        }
    }

    /// Whether the statement's Condition holds every request to this stack's
    /// region (`StringEquals` `aws:RequestedRegion`: `AWS::Region`).
    fn region_pinned(&self, s: &Statement) -> bool {
        let Some(equals) = s.condition.as_ref().and_then(|c| c.get("StringEquals")) else {
            return false;
        };
        equals
            .get("aws:RequestedRegion")
            .and_then(|v| self.eval(v).ok())
            .is_some_and(|v| matches!(v, Val::One(r) if r == REGION))
    }

    /// Whether the statement's Condition holds it to functions that carry
    /// the onboarding tag with a value.
    fn tag_scoped(&self, s: &Statement) -> bool {
        s.condition
            .as_ref()
            .and_then(|c| c.get("StringLike"))
            .and_then(|like| like.get(ONBOARDING_TAG_KEY))
            .and_then(|v| self.eval(v).ok())
            .is_some_and(|v| matches!(v, Val::One(p) if p == "?*"))
    }

    /// Whether `action` may be granted on `arn` (as evaluated). With the
    /// region pinned by the statement's Condition, an ARN may write its
    /// partition, region and account as "*" (a role cannot reach another
    /// partition, the Condition holds the region, and another account's
    /// resource only with that account's consent); never its resource name.
    fn resource_ok(
        &self,
        action: &str,
        arn: &str,
        region_pinned: bool,
        tag_scoped: bool,
    ) -> Result<(), String> {
        let service = action.split(':').next().unwrap_or_default().to_lowercase();
        if arn == "*" {
            return match STAR_RESOURCE_OK
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(action))
            {
                Some(_) => Ok(()),
                None => Err("Resource \"*\": scope it to the resources it needs \
                             (only actions without resource-level permissions may use \"*\")"
                    .into()),
            };
        }
        // A resource of this template, or a whole-ARN parameter: specific by
        // construction (parameters are checked by `parameters_in`).
        if let Some(name) = placeholder(arn) {
            let logical = name.split('.').next().unwrap_or_default();
            let logical = logical.strip_prefix("ref:").unwrap_or(logical);
            if service == "lambda" && !self.is_function(logical) {
                return Err(format!(
                    "not a function: Lambda actions are for the {MANAGED} functions"
                ));
            }
            return Ok(());
        }
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, partition, arn_service, region, account, name] = parts[..] else {
            return Err("not an ARN".into());
        };
        let ours = |v: &str, this: &str| v == this || v.is_empty() || (region_pinned && v == "*");
        if !ours(partition, PARTITION) || !ours(region, REGION) || !ours(account, ACCOUNT) {
            return Err(
                "partition, region and account must be this stack's (or \"*\" with a \
                 Condition on aws:RequestedRegion)"
                    .into(),
            );
        }
        if arn_service != service {
            return Err(format!("a {arn_service} resource for a {service} action"));
        }
        if service == "lambda" {
            if tag_scoped && name == "function:*" {
                return Ok(());
            }
            return self.lambda_scoped(action, name);
        }
        if name.contains('*') {
            let allowed = WILDCARD_NAME_OK
                .iter()
                .any(|(a, suffix, _)| a.eq_ignore_ascii_case(action) && arn.ends_with(suffix));
            if !allowed {
                return Err("a wildcard in the resource name: name the resource".into());
            }
        }
        Ok(())
    }

    /// `function:NAME` or `function:NAME:QUALIFIER`, NAME one of the managed
    /// functions (or a function of this template), or one of the hooks for
    /// lambda:InvokeFunction.
    fn lambda_scoped(&self, action: &str, name: &str) -> Result<(), String> {
        let rest = name
            .strip_prefix("function:")
            .ok_or("Lambda actions are for functions only")?;
        let function = rest.split(':').next().unwrap_or_default();
        let listed =
            |param: &str, p: &str| p.strip_prefix(param).is_some_and(|i| i.starts_with('#'));
        let managed = placeholder(function).is_some_and(|p| {
            listed(MANAGED, p)
                || (action.eq_ignore_ascii_case("lambda:InvokeFunction") && listed(HOOKS, p))
                || p.strip_prefix("ref:")
                    .is_some_and(|id| self.is_function(id))
        });
        if managed {
            Ok(())
        } else {
            Err(format!(
                "function {function:?} is not one of {MANAGED}: build the ARN from that parameter"
            ))
        }
    }

    /// Each String parameter inside a resource must refuse wildcards.
    fn parameters_in(&self, arn: &str) -> Result<(), String> {
        let mut rest = arn;
        while let Some(i) = rest.find('⟨') {
            let end = rest[i..]
                .find('⟩')
                .map(|e| i + e)
                .ok_or("unclosed placeholder")?;
            let name = &rest[i + '⟨'.len_utf8()..end];
            rest = &rest[end + '⟩'.len_utf8()..];
            let param = name.split('#').next().unwrap_or_default();
            let Some(p) = self.parameter(param) else {
                continue; // a resource of this template
            };
            self.refuses_wildcards(param, &p)?;
        }
        Ok(())
    }

    fn refuses_wildcards(&self, name: &str, p: &Node) -> Result<(), String> {
        let pattern = p.get("AllowedPattern").and_then(Node::str);
        let allowed = p.get("AllowedValues");
        if let Some(Node::Seq(values)) = allowed {
            if values
                .iter()
                .all(|v| v.str().is_some_and(|s| !s.contains('*')))
            {
                return Ok(());
            }
        }
        let Some(pattern) = pattern else {
            return Err(format!(
                "parameter {name} has no AllowedPattern, so \"*\" could be deployed: \
                 give it one that admits only a name or ARN"
            ));
        };
        let re = regex_lite::Regex::new(pattern)
            .map_err(|e| format!("parameter {name}: AllowedPattern does not compile: {e}"))?;
        // CloudFormation matches the whole value.
        let whole = |s: &str| {
            re.find(s)
                .is_some_and(|m| m.start() == 0 && m.end() == s.len())
        };
        match WILDCARD_PROBES.iter().find(|p| whole(p)) {
            Some(probe) => Err(format!(
                "parameter {name}'s AllowedPattern admits {probe:?}: exclude \"*\""
            )),
            None => Ok(()),
        }
    }

    /// The managed functions' list must refuse wildcards even where no
    /// resource uses it yet.
    fn check_managed_parameter(&self, out: &mut Vec<String>) {
        if let Some(p) = self.parameter(MANAGED) {
            if let Err(e) = self.refuses_wildcards(MANAGED, &p) {
                out.push(format!("Parameters.{MANAGED}: {e}"));
            }
        }
    }

    /// A service may invoke a function only from a named source.
    fn check_permissions(&self, out: &mut Vec<String>) {
        for (name, r) in self.resources_section() {
            if r.get("Type").and_then(Node::str) != Some("AWS::Lambda::Permission") {
                continue;
            }
            let props = r.get("Properties");
            let get = |k: &str| props.and_then(|p| p.get(k));
            let principal = get("Principal").and_then(Node::str).unwrap_or_default();
            if principal == "*" {
                out.push(format!(
                    "Resources.{name}: Principal \"*\" lets anyone invoke: name the service"
                ));
            } else if principal.ends_with(".amazonaws.com")
                && get("SourceArn").is_none()
                && get("SourceAccount").is_none()
            {
                out.push(format!(
                    "Resources.{name}: {principal} may invoke from any account's resource: \
                     add SourceArn"
                ));
            }
        }
    }

    fn public(&self, p: &Node) -> bool {
        match p {
            Node::Str(s) => s == "*",
            Node::Map(m) => m.iter().any(|(_, v)| match v {
                Node::Seq(items) => items.iter().any(|i| i.str() == Some("*")),
                other => other.str() == Some("*"),
            }),
            _ => false,
        }
    }
}

// ---------------------------------------------------- statements, everywhere

impl Template {
    /// Every IAM statement in the template: policy documents anywhere, SAM
    /// `Policies` entries (inline documents and the policy templates below).
    fn statements(&self, out: &mut Vec<Statement>, problems: &mut Vec<String>) {
        walk(&self.root, "", &mut |path, node| {
            let Node::Map(m) = node else { return };
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("Statement", Node::Seq(items)) => {
                        for (i, s) in items.iter().enumerate() {
                            // A statement under !If: each alternative granted.
                            for s in alternatives(s) {
                                out.push(statement(&format!("{path}.Statement[{i}]"), s));
                            }
                        }
                    }
                    ("Statement", s @ Node::Map(_)) => {
                        out.push(statement(&format!("{path}.Statement"), s))
                    }
                    ("Policies", policies) => {
                        let items = match policies {
                            Node::Seq(items) => items.clone(),
                            other => vec![other.clone()],
                        };
                        for (i, item) in items.iter().enumerate() {
                            let at = format!("{path}.Policies[{i}]");
                            sam_policy(&at, item, out, problems);
                        }
                    }
                    ("ManagedPolicyArns", _) => problems.push(format!(
                        "{path}.ManagedPolicyArns: a managed policy's grants are not visible \
                         here: write the statements out"
                    )),
                    _ => {}
                }
            }
        });
    }
}

/// The statements a list item may grant: itself, or each branch of an
/// `!If` but `AWS::NoValue`.
fn alternatives(n: &Node) -> Vec<&Node> {
    let no_value =
        |b: &Node| matches!(b, Node::Fn(r, v) if r == "Ref" && v.str() == Some("AWS::NoValue"));
    match n {
        Node::Fn(f, arg) if f == "Fn::If" => match &**arg {
            Node::Seq(a) if a.len() == 3 => a[1..].iter().filter(|b| !no_value(b)).collect(),
            _ => vec![n],
        },
        other => vec![other],
    }
}

fn statement(at: &str, s: &Node) -> Statement {
    let list = |n: Option<&Node>| -> Vec<String> {
        match n {
            Some(Node::Seq(items)) => items
                .iter()
                .filter_map(|i| i.str().map(String::from))
                .collect(),
            Some(other) => other.str().map(String::from).into_iter().collect(),
            None => Vec::new(),
        }
    };
    let sid = s
        .get("Sid")
        .and_then(Node::str)
        .map(|x| format!(" ({x})"))
        .unwrap_or_default();
    let not = ["NotAction", "NotResource", "NotPrincipal"]
        .into_iter()
        .filter(|k| s.get(k).is_some())
        .collect();
    Statement {
        at: format!("{at}{sid}"),
        actions: list(s.get("Action")),
        resource: s.get("Resource").cloned(),
        principal: s.get("Principal").cloned(),
        condition: s.get("Condition").cloned(),
        allow: s.get("Effect").and_then(Node::str) != Some("Deny"),
        not,
    }
}

/// SAM policy templates expanded to the statements SAM generates for them.
fn sam_policy(at: &str, item: &Node, out: &mut Vec<Statement>, problems: &mut Vec<String>) {
    let Node::Map(m) = item else {
        problems.push(format!(
            "{at}: managed policy {:?}: its grants are not visible here: write the statements out",
            item.str().unwrap_or("?")
        ));
        return;
    };
    if m.iter().any(|(k, _)| k == "Statement" || k == "Version") {
        return; // an inline document: its statements are found by the walk
    }
    for (name, args) in m {
        let arg = |k: &str| args.get(k).cloned().unwrap_or(Node::Str(String::new()));
        let sub = |arn: &str, var: &str, value: Node| {
            Node::Fn(
                "Fn::Sub".into(),
                Box::new(Node::Seq(vec![
                    Node::Str(arn.into()),
                    Node::Map(vec![(var.into(), value)]),
                ])),
            )
        };
        let (action, resource) = match name.as_str() {
            "EventBridgePutEventsPolicy" => (
                "events:PutEvents",
                sub(
                    "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${bus}",
                    "bus",
                    arg("EventBusName"),
                ),
            ),
            "SNSPublishMessagePolicy" => (
                "sns:Publish",
                sub(
                    "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${topic}",
                    "topic",
                    arg("TopicName"),
                ),
            ),
            other => {
                problems.push(format!(
                    "{at}: SAM policy template {other} is not known to this check: write the \
                     statement out, or add its expansion to sam_policy()"
                ));
                continue;
            }
        };
        out.push(Statement {
            at: format!("{at} ({name})"),
            actions: vec![action.into()],
            resource: Some(resource),
            principal: None,
            condition: None,
            allow: true,
            not: Vec::new(),
        });
    }
}

/// `n` with `f` applied to every string and mapping key.
fn map_strings(n: &Node, f: &impl Fn(&str) -> String) -> Node {
    match n {
        Node::Str(s) => Node::Str(f(s)),
        Node::Seq(items) => Node::Seq(items.iter().map(|i| map_strings(i, f)).collect()),
        Node::Map(m) => Node::Map(m.iter().map(|(k, v)| (f(k), map_strings(v, f))).collect()),
        Node::Fn(name, arg) => Node::Fn(name.clone(), Box::new(map_strings(arg, f))),
    }
}

fn walk(node: &Node, path: &str, f: &mut impl FnMut(&str, &Node)) {
    f(path, node);
    match node {
        Node::Map(m) => {
            for (k, v) in m {
                let at = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(v, &at, f);
            }
        }
        Node::Seq(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, &format!("{path}[{i}]"), f);
            }
        }
        Node::Fn(_, arg) => walk(arg, path, f),
        Node::Str(_) => {}
    }
}

// ---------------------------------------------- evaluating resource expressions

/// What an intrinsic function evaluates to: one string or a list.
#[derive(Debug, Clone)]
enum Val {
    One(String),
    Many(Vec<String>),
}

/// `⟨NAME⟩` stands for a parameter (`⟨Param#0⟩` for an element of a list
/// parameter) or a resource of this template (`⟨ref:Id⟩`, `⟨Id.Attr⟩`).
fn placeholder(s: &str) -> Option<&str> {
    s.strip_prefix('⟨')?
        .strip_suffix('⟩')
        .filter(|p| !p.contains('⟨'))
}

impl Template {
    /// The ARNs a Resource (one, a list, or `!If` alternatives) grants.
    fn resources(&self, n: &Node) -> Result<Vec<String>, String> {
        match n {
            Node::Seq(items) => {
                let mut out = Vec::new();
                for i in items {
                    out.extend(self.resources(i)?);
                }
                Ok(out)
            }
            Node::Fn(f, arg) if f == "Fn::If" => match &**arg {
                Node::Seq(a) if a.len() == 3 => {
                    let mut out = self.resources(&a[1])?;
                    out.extend(self.resources(&a[2])?);
                    Ok(out.into_iter().filter(|r| r != "⟨AWS::NoValue⟩").collect())
                }
                _ => Err("Fn::If takes [condition, then, else]".into()),
            },
            other => Ok(match self.eval(other)? {
                Val::One(s) => vec![s],
                Val::Many(v) => v,
            }),
        }
    }

    fn eval(&self, n: &Node) -> Result<Val, String> {
        let one = |v: Val| match v {
            Val::One(s) => Ok(s),
            Val::Many(_) => Err("a list where a string is needed".to_string()),
        };
        match n {
            Node::Str(s) => Ok(Val::One(s.clone())),
            Node::Seq(items) => {
                let mut out = Vec::new();
                for i in items {
                    match self.eval(i)? {
                        Val::One(s) => out.push(s),
                        Val::Many(v) => out.extend(v),
                    }
                }
                Ok(Val::Many(out))
            }
            Node::Map(_) => Err("a mapping where a value is needed".into()),
            Node::Fn(f, arg) => match (f.as_str(), &**arg) {
                ("Ref", Node::Str(name)) => Ok(self.reference(name)),
                ("Fn::GetAtt", Node::Str(s)) => Ok(Val::One(format!("⟨{s}⟩"))),
                ("Fn::GetAtt", Node::Seq(p)) if p.len() == 2 => Ok(Val::One(format!(
                    "⟨{}.{}⟩",
                    p[0].str().unwrap_or("?"),
                    p[1].str().unwrap_or("?")
                ))),
                ("Fn::Sub", Node::Str(s)) => Ok(Val::One(self.sub(s, &[])?)),
                ("Fn::Sub", Node::Seq(a)) if a.len() == 2 => {
                    let Node::Map(vars) = &a[1] else {
                        return Err("Fn::Sub's second argument is a mapping".into());
                    };
                    let mut values = Vec::new();
                    for (k, v) in vars {
                        values.push((k.clone(), one(self.eval(v)?)?));
                    }
                    let template = a[0].str().ok_or("Fn::Sub's first argument is a string")?;
                    Ok(Val::One(self.sub(template, &values)?))
                }
                ("Fn::Join", Node::Seq(a)) if a.len() == 2 => {
                    let sep = one(self.eval(&a[0])?)?;
                    Ok(Val::One(match self.eval(&a[1])? {
                        Val::Many(v) => v.join(&sep),
                        Val::One(s) => s,
                    }))
                }
                ("Fn::Split", Node::Seq(a)) if a.len() == 2 => {
                    let sep = a[0].str().ok_or("Fn::Split's separator is a string")?;
                    let s = one(self.eval(&a[1])?)?;
                    Ok(Val::Many(s.split(sep).map(String::from).collect()))
                }
                ("Fn::Select", Node::Seq(a)) if a.len() == 2 => {
                    let i: usize = a[0]
                        .str()
                        .and_then(|s| s.parse().ok())
                        .ok_or("Fn::Select's index is a number")?;
                    match self.eval(&a[1])? {
                        Val::Many(v) => v
                            .get(i)
                            .cloned()
                            .map(Val::One)
                            .ok_or("index out of range".into()),
                        Val::One(_) => Err("Fn::Select needs a list".into()),
                    }
                }
                (f, _) => Err(format!("{f} is not evaluated by this check")),
            },
        }
    }

    fn reference(&self, name: &str) -> Val {
        let pseudo = match name {
            "AWS::Partition" => Some(PARTITION),
            "AWS::Region" => Some(REGION),
            "AWS::AccountId" => Some(ACCOUNT),
            "AWS::URLSuffix" => Some("amazonaws.com"),
            _ => None,
        };
        if let Some(v) = pseudo {
            return Val::One(v.into());
        }
        match self.parameter(name) {
            Some(p) => {
                let ty = p.get("Type").and_then(Node::str).unwrap_or("String");
                if ty == "CommaDelimitedList" || ty.starts_with("List<") {
                    // Two elements, so a check that holds for one holds for all.
                    Val::Many((0..2).map(|i| format!("⟨{name}#{i}⟩")).collect())
                } else {
                    Val::One(format!("⟨{name}⟩"))
                }
            }
            None if name.starts_with("AWS::") => Val::One(format!("⟨{name}⟩")),
            None => Val::One(format!("⟨ref:{name}⟩")),
        }
    }

    /// `${Name}`, `${Id.Attr}` and `${!Literal}` of Fn::Sub.
    fn sub(&self, s: &str, vars: &[(String, String)]) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let end = rest[i..]
                .find('}')
                .map(|e| i + e)
                .ok_or("unclosed ${ in Fn::Sub")?;
            let name = &rest[i + 2..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some((_, v)) = vars.iter().find(|(k, _)| k == name) {
                out.push_str(v);
            } else if name.contains('.') && !name.starts_with("AWS::") {
                out.push_str(&format!("⟨{name}⟩"));
            } else {
                match self.reference(name) {
                    Val::One(v) => out.push_str(&v),
                    Val::Many(_) => return Err(format!("${{{name}}} is a list")),
                }
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

// ------------------------------------------------------------- reading YAML

/// A YAML node with CloudFormation's intrinsic functions made explicit:
/// `!Sub x` and `{"Fn::Sub": x}` both read as `Fn("Fn::Sub", x)`.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
    Fn(String, Box<Node>),
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }
}

struct Template {
    root: Node,
}

impl Template {
    fn parse(yaml: &str) -> Result<Template, String> {
        let mut t = Template::parse_unexpanded(yaml)?;
        t.expand_for_each()?;
        Ok(t)
    }

    /// As written, Fn::ForEach not expanded.
    fn parse_unexpanded(yaml: &str) -> Result<Template, String> {
        let mut events = Parser::new_from_str(yaml);
        loop {
            let (ev, _) = events
                .next()
                .ok_or("empty document")?
                .map_err(|e| e.to_string())?;
            match ev {
                Event::StreamStart | Event::DocumentStart(_) => continue,
                ev => {
                    return Ok(Template {
                        root: node(ev, &mut events)?,
                    })
                }
            }
        }
    }

    /// AWS::LanguageExtensions' `Fn::ForEach::Loop: [Id, Collection, {Key: Body}]`
    /// in Resources, written out as the transform would: one copy of the body
    /// per element of the collection (two placeholder elements for a list
    /// parameter), `${Id}` and `&{Id}` replaced in every string and key.
    fn expand_for_each(&mut self) -> Result<(), String> {
        let Some(Node::Map(resources)) = self.root.get("Resources").cloned() else {
            return Ok(());
        };
        let mut out = Vec::new();
        for (key, value) in resources {
            if !key.starts_with("Fn::ForEach::") {
                out.push((key, value));
                continue;
            }
            let Node::Seq(parts) = &value else {
                return Err(format!(
                    "{key}: takes [identifier, collection, {{key: body}}]"
                ));
            };
            let [Node::Str(id), collection, Node::Map(body)] = &parts[..] else {
                return Err(format!(
                    "{key}: takes [identifier, collection, {{key: body}}]"
                ));
            };
            let elements = match self.eval(collection)? {
                Val::Many(v) => v,
                Val::One(v) => vec![v],
            };
            for v in elements {
                let plain: String = v.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
                let fill = |s: &str| {
                    s.replace(&format!("${{{id}}}"), &v)
                        .replace(&format!("&{{{id}}}"), &plain)
                };
                for (k, b) in body {
                    out.push((fill(k), map_strings(b, &fill)));
                }
            }
        }
        if let Node::Map(root) = &mut self.root {
            for (k, v) in root.iter_mut() {
                if k == "Resources" {
                    *v = Node::Map(out.clone());
                }
            }
        }
        Ok(())
    }

    fn section(&self, name: &str) -> Vec<(String, Node)> {
        match self.root.get(name) {
            Some(Node::Map(m)) => m.clone(),
            _ => Vec::new(),
        }
    }

    fn resources_section(&self) -> Vec<(String, Node)> {
        self.section("Resources")
    }

    fn parameter(&self, name: &str) -> Option<Node> {
        self.section("Parameters")
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    fn is_function(&self, logical: &str) -> bool {
        self.resource_type(logical)
            .is_some_and(|t| t == "AWS::Serverless::Function" || t == "AWS::Lambda::Function")
    }

    fn resource_type(&self, logical: &str) -> Option<String> {
        self.resources_section()
            .into_iter()
            .find(|(k, _)| k == logical)
            .and_then(|(_, r)| r.get("Type").and_then(Node::str).map(String::from))
    }
}

type Events<'a> = Parser<'a, saphyr_parser::StrInput<'a>>;

fn next<'a>(rest: &mut Events<'a>) -> Result<Event<'a>, String> {
    match rest.next() {
        Some(Ok((e, _))) => Ok(e),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("unexpected end of the document".into()),
    }
}

fn node<'a>(ev: Event<'a>, rest: &mut Events<'a>) -> Result<Node, String> {
    let (n, tag) = match ev {
        Event::Scalar(v, _, _, tag) => (Node::Str(v.into_owned()), tag),
        Event::SequenceStart(_, tag) => {
            let mut items = Vec::new();
            loop {
                match next(rest)? {
                    Event::SequenceEnd => break,
                    e => items.push(node(e, rest)?),
                }
            }
            (Node::Seq(items), tag)
        }
        Event::MappingStart(_, tag) => {
            let mut pairs = Vec::new();
            loop {
                match next(rest)? {
                    Event::MappingEnd => break,
                    Event::Scalar(k, ..) => {
                        let v = next(rest)?;
                        pairs.push((k.into_owned(), node(v, rest)?));
                    }
                    other => return Err(format!("a mapping key that is not a string: {other:?}")),
                }
            }
            // The long form of an intrinsic function: a one-key mapping.
            match &pairs[..] {
                [(k, v)] if k == "Ref" || k == "Condition" || k.starts_with("Fn::") => {
                    (Node::Fn(k.clone(), Box::new(v.clone())), tag)
                }
                _ => (Node::Map(pairs), tag),
            }
        }
        Event::Alias(_) => return Err("anchors and aliases are not used in templates".into()),
        other => return Err(format!("unexpected YAML event {other:?}")),
    };
    match tag {
        None => Ok(n),
        Some(t) if t.is_yaml_core_schema() => Ok(n),
        Some(t) if t.handle == "!" => {
            let name = match t.suffix.as_str() {
                "Ref" | "Condition" => t.suffix.clone(),
                s => format!("Fn::{s}"),
            };
            Ok(Node::Fn(name, Box::new(n)))
        }
        Some(t) => Err(format!("unknown tag {}{}", t.handle, t.suffix)),
    }
}

// ------------------------------------------------------ the checker, checked

#[cfg(test)]
mod checker {
    use super::check;

    const HEAD: &str = r#"
Parameters:
  ManagedFunctionNames:
    Type: CommaDelimitedList
    AllowedPattern: ^[A-Za-z0-9_-]{1,64}$
  HookFunctionNames:
    Type: CommaDelimitedList
    AllowedPattern: ^[A-Za-z0-9_-]{0,64}$
  EventBusArn:
    Type: String
    AllowedPattern: ^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/[A-Za-z0-9._-]+$
  LooseBusArn:
    Type: String
  BusName:
    Type: String
    AllowedPattern: ^[A-Za-z0-9._-]+$
Resources:
  Topic:
    Type: AWS::SNS::Topic
  AlarmRule:
    Type: AWS::Events::Rule
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
"#;

    /// The problems of one statement under a function's Policies.
    fn problems(statement: &str) -> Vec<String> {
        let item: String = statement
            .lines()
            .enumerate()
            .map(|(i, l)| {
                format!(
                    "{}{l}\n",
                    if i == 0 {
                        "            - "
                    } else {
                        "              "
                    }
                )
            })
            .collect();
        let yaml = format!("{HEAD}{item}");
        check(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
    }

    const SCOPED_LAMBDA: &str = r#"Effect: Allow
Action: [lambda:GetAlias, lambda:UpdateAlias]
Resource: !Split
  - ","
  - !Sub
    - "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${Names},arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${Qualified}:*"
    - Names: !Join
        - !Sub ",arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
        - !Ref ManagedFunctionNames
      Qualified: !Join
        - !Sub ":*,arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
        - !Ref ManagedFunctionNames"#;

    const TAGGED_LAMBDA: &str = r#"Effect: Allow
Action: [lambda:GetAlias, lambda:UpdateAlias]
Resource: !Sub "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:*"
Condition:
  StringLike:
    aws:ResourceTag/lambda-rollout:alias: "?*""#;

    #[test]
    fn correctly_scoped_grants_pass() {
        for ok in [
            SCOPED_LAMBDA,
            "Effect: Allow\nAction: cloudwatch:GetMetricData\nResource: \"*\"",
            "Effect: Allow\nAction: cloudwatch:DescribeAlarms\nResource: !Sub \"arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*\"",
            "Effect: Allow\nAction: events:PutEvents\nResource: !Ref EventBusArn",
            "Effect: Allow\nAction: events:PutEvents\nResource: !Sub \"arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${BusName}\"",
            "Effect: Allow\nAction: sns:Publish\nResource: !Ref Topic",
            &SCOPED_LAMBDA
                .replace("[lambda:GetAlias, lambda:UpdateAlias]", "lambda:InvokeFunction")
                .replace("ManagedFunctionNames", "HookFunctionNames"),
            TAGGED_LAMBDA,
            "Effect: Allow\nAction: tag:GetResources\nResource: \"*\"",
            "Effect: Allow\nAction: ssm:GetParameters\nResource: !Sub \"arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/lambda-rollout/*\"",
        ] {
            assert_eq!(problems(ok), Vec::<String>::new(), "{ok}");
        }
    }

    #[test]
    fn wildcards_and_unscoped_grants_fail() {
        let cases = [
            ("Effect: Allow\nAction: \"*\"\nResource: !Ref Topic", "grants a whole service"),
            ("Effect: Allow\nAction: lambda:*\nResource: \"*\"", "grants a whole service"),
            ("Effect: Allow\nAction: lambda:UpdateAlias\nResource: \"*\"", "Resource \"*\""),
            (
                "Effect: Allow\nAction: lambda:GetAlias\nResource: !Sub \"arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:*\"",
                "is not one of ManagedFunctionNames",
            ),
            (
                "Effect: Allow\nAction: lambda:*Alias*\nResource: arn:aws:lambda:us-east-1:123456789012:function:other",
                "partition, region and account",
            ),
            (
                "Effect: Allow\nAction: lambda:ListVersionsByFunction\nResource: !Sub \"arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:other\"",
                "is not one of ManagedFunctionNames",
            ),
            (
                // The hooks may be invoked, nothing more.
                &SCOPED_LAMBDA.replace("ManagedFunctionNames", "HookFunctionNames"),
                "is not one of ManagedFunctionNames",
            ),
            (
                "Effect: Allow\nAction: lambda:GetFunctionConfiguration\nResource: !Ref Topic",
                "not a function",
            ),
            // Any value, the empty one included, or another tag: not the
            // functions onboarding manages.
            (&TAGGED_LAMBDA.replace("\"?*\"", "\"*\""), "is not one of ManagedFunctionNames"),
            (
                &TAGGED_LAMBDA.replace("lambda-rollout:alias", "team"),
                "is not one of ManagedFunctionNames",
            ),
            (
                &TAGGED_LAMBDA.replace("StringLike", "StringNotLike"),
                "is not one of ManagedFunctionNames",
            ),
            // The tag scopes function:*, never another name's wildcard.
            (
                &TAGGED_LAMBDA.replace("function:*", "function:a*"),
                "is not one of ManagedFunctionNames",
            ),
            (
                "Effect: Allow\nAction: ssm:GetParameters\nResource: !Sub \"arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/*\"",
                "wildcard in the resource name",
            ),
            ("Effect: Allow\nAction: ssm:GetParameters\nResource: \"*\"", "Resource \"*\""),
            ("Effect: Allow\nAction: events:PutEvents\nResource: \"*\"", "Resource \"*\""),
            (
                "Effect: Allow\nAction: events:PutEvents\nResource: !Sub \"arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/*\"",
                "wildcard in the resource name",
            ),
            (
                "Effect: Allow\nAction: events:PutEvents\nResource: !Ref LooseBusArn",
                "has no AllowedPattern",
            ),
            (
                "Effect: Allow\nAction: sns:Publish\nResource: !Sub \"arn:${AWS::Partition}:sns:*:${AWS::AccountId}:*\"",
                "partition, region and account",
            ),
            ("Effect: Allow\nNotAction: iam:*\nResource: \"*\"", "NotAction"),
            (
                "Effect: Allow\nAction: cloudwatch:DescribeAlarms\nResource: \"*\"",
                "Resource \"*\"",
            ),
            (
                "Effect: Allow\nAction: sns:Publish\nPrincipal: \"*\"\nResource: !Ref Topic",
                "principal \"*\"",
            ),
            (
                "Effect: Allow\nAction: lambda:UpdateAlias\nResource: !Sub \"arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/x\"",
                "a events resource for a lambda action",
            ),
        ];
        for (statement, want) in cases {
            let p = problems(statement);
            assert!(
                p.iter().any(|x| x.contains(want)),
                "{statement}\nwanted {want:?} in {p:?}"
            );
        }
    }

    #[test]
    fn rules_topics_permissions_and_policy_templates() {
        // The coming additions, correctly scoped: an alarm-state rule invoking
        // the function, an SNS topic fed by a rule, PutEvents to a named bus.
        let good = format!(
            "{}{}",
            HEAD.trim_end_matches("        - Statement:\n"),
            r#"        - EventBridgePutEventsPolicy:
            EventBusName: !Ref BusName
        - SNSPublishMessagePolicy:
            TopicName: !GetAtt Topic.TopicName
  AlarmRuleInvoke:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref Fn
      Principal: events.amazonaws.com
      SourceArn: !GetAtt AlarmRule.Arn
  TopicPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref Topic]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: events.amazonaws.com}
            Action: sns:Publish
            Resource: !Ref Topic
"#
        );
        assert_eq!(check(&good).unwrap(), Vec::<String>::new());

        for (bad, want) in [
            ("EventBusName: !Ref BusName", "EventBusName: \"*\""),
            ("Principal: events.amazonaws.com", "Principal: \"*\""),
            (
                "Principal: {Service: events.amazonaws.com}",
                "Principal: {AWS: \"*\"}",
            ),
            (
                "        - SNSPublishMessagePolicy:",
                "        - AdministratorAccess\n        - SNSPublishMessagePolicy:",
            ),
            (
                "        - SNSPublishMessagePolicy:",
                "        - SQSPollerPolicy: {}\n        - SNSPublishMessagePolicy:",
            ),
        ] {
            let yaml = good.replacen(bad, want, 1);
            assert_ne!(yaml, good, "{bad}");
            assert!(!check(&yaml).unwrap().is_empty(), "{want}");
        }
        // Without SourceArn at all, any account's rule could invoke it.
        let open = good.replacen("      SourceArn: !GetAtt AlarmRule.Arn\n", "", 1);
        assert!(check(&open)
            .unwrap()
            .iter()
            .any(|p| p.contains("add SourceArn")));
        // A list parameter that admits "*" widens every grant built from it.
        let loose = good.replacen("    AllowedPattern: ^[A-Za-z0-9_-]{1,64}$\n", "", 1);
        assert!(check(&loose)
            .unwrap()
            .iter()
            .any(|p| p.contains("ManagedFunctionNames")));
    }

    /// A policy per managed function through Fn::ForEach passes; the same
    /// loop over a wildcard does not.
    #[test]
    fn for_each_policies_are_checked_per_element() {
        let head =
            HEAD.trim_end_matches("    Properties:\n      Policies:\n        - Statement:\n");
        let each = |resource: &str| {
            format!(
                "{head}  Fn::ForEach::Managed:
    - Name
    - !Ref ManagedFunctionNames
    - Manages&{{Name}}:
        Type: AWS::IAM::RolePolicy
        Properties:
          RoleName: !Ref FnRole
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: [lambda:GetAlias, lambda:UpdateAlias]
                Resource: !Sub \"{resource}\"
"
            )
        };
        let good = each(
            "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${Name}:*",
        );
        assert_eq!(check(&good).unwrap(), Vec::<String>::new(), "{good}");
        let wild = each("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:*");
        assert!(!check(&wild).unwrap().is_empty(), "{wild}");
    }

    /// Partition, region and account written "*" pass only with the region
    /// held by the statement's Condition; the name is never a wildcard.
    #[test]
    fn wildcard_arn_parts_need_the_region_pinned() {
        let names = "!Split [\",\", !Join [\"\", [\"arn:*:lambda:*:*:function:\", !Join [\",arn:*:lambda:*:*:function:\", !Ref ManagedFunctionNames]]]]";
        let pinned = "\nCondition:\n  StringEquals:\n    aws:RequestedRegion: !Ref AWS::Region";
        let base = format!("Effect: Allow\nAction: [lambda:GetAlias]\nResource: {names}");
        assert!(!problems(&base).is_empty(), "no Condition");
        assert_eq!(problems(&format!("{base}{pinned}")), Vec::<String>::new());
        let other = pinned.replace("!Ref AWS::Region", "eu-west-9");
        assert!(
            !problems(&format!("{base}{other}")).is_empty(),
            "another region"
        );
        let any = format!("Effect: Allow\nAction: [lambda:GetAlias]\nResource: \"arn:*:lambda:*:*:function:*\"{pinned}");
        assert!(!problems(&any).is_empty(), "a wildcard name");
    }

    /// The rules the emulator does not enforce: each breach is named.
    #[test]
    fn intrinsic_rule_breaches_are_named() {
        use super::{intrinsic_problems, Template};
        let cases = [
            (
                "X: !Join [!Sub \"${AWS::Region},\", [a, b]]",
                "Fn::Join's delimiter",
            ),
            ("X: !Split [!Ref D, \"a,b\"]", "Fn::Split's delimiter"),
            ("X: !Sub [!Join [\"\", [a]], {}]", "Fn::Sub's string"),
            ("X: !Ref {\"Fn::Sub\": \"${A}\"}", "Ref takes a name"),
            ("X: !GetAtt [!Ref R, Arn]", "Fn::GetAtt's logical name"),
            ("X: !Select [!Sub \"0\", [a]]", "Fn::Select's index"),
            ("X: !If [!Equals [a, b], x, y]", "Fn::If's condition"),
            (
                "Other: 1\nFn::ForEach::L:\n  - N\n  - [a, b]\n  - Fixed:\n      Type: T",
                "must use ${N}",
            ),
        ];
        for (yaml, want) in cases {
            let t = Template::parse_unexpanded(yaml).unwrap();
            let p = intrinsic_problems(&t.root);
            assert!(p.iter().any(|l| l.contains(want)), "{yaml}: {p:?}");
        }
        for fine in [
            "X: !Join [\",\", [!Ref A, b]]",
            "X: !Sub [\"${A}\", {A: !Ref B}]",
            "X: !Select [0, !Split [\",\", !Ref L]]",
            "X: !GetAtt R.Arn",
            "X: !If [WithDemo, a, b]",
        ] {
            let t = Template::parse_unexpanded(fine).unwrap();
            assert_eq!(intrinsic_problems(&t.root), Vec::<String>::new(), "{fine}");
        }
    }

    #[test]
    fn unreadable_templates_fail_closed() {
        assert!(check("Resources:\n  X: *undefined\n").is_err());
        let odd = format!("{HEAD}            - Effect: Allow\n              Action: lambda:GetAlias\n              Resource: !FindInMap [M, K, V]\n");
        assert!(check(&odd)
            .unwrap()
            .iter()
            .any(|p| p.contains("cannot evaluate")));
    }
}
