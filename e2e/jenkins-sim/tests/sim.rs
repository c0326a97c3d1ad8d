//! The simulator against docs/jenkins.md, over HTTP on 127.0.0.1:0.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

const ALICE: (&str, &str) = ("alice", "tok-alice");
const ALICE_PW: (&str, &str) = ("alice", "pw-alice");
const BOB: (&str, &str) = ("bob", "tok-bob");

fn config() -> Value {
    json!({
        "version": "2.516.1",
        "users": [
            {"name": "alice", "full_name": "Alice A", "password": "pw-alice", "tokens": ["tok-alice"],
             "permissions": ["Overall/Read", "Job/Read", "Job/Build", "Job/Cancel"]},
            {"name": "bob", "password": "pw-bob", "tokens": ["tok-bob"],
             "permissions": ["Overall/Read", "Job/Read"]},
            {"name": "carol", "tokens": ["tok-carol"], "permissions": ["Overall/Read"],
             "grants": {"team": ["Job/Read"]}},
            {"name": "dave", "tokens": ["tok-dave"], "permissions": []}
        ],
        "jobs": [
            {"name": "hello", "type": "freestyle",
             "build": {"duration_ms": 600, "result": "SUCCESS", "log": ["one", "two", "three", "four", "five"]}},
            {"name": "params", "type": "pipeline",
             "parameters": [
                {"type": "string", "name": "VERSION", "default": "latest", "description": "tag"},
                {"type": "choice", "name": "ENV", "choices": ["staging", "production"]},
                {"type": "boolean", "name": "DRY_RUN", "default": true}
             ],
             "build": {"duration_ms": 300, "result": "UNSTABLE"}},
            {"name": "off", "type": "freestyle", "disabled": true},
            {"name": "slow", "type": "freestyle", "build": {"duration_ms": 60000}},
            {"name": "team", "type": "folder", "jobs": [
                {"name": "inner", "type": "folder", "jobs": [
                    {"name": "deep job", "type": "pipeline",
                     "history": ["SUCCESS", "FAILURE", "UNSTABLE", "SUCCESS", "ABORTED"]}
                ]}
            ]},
            {"name": "web", "type": "multibranch", "branches": ["main", "feature/x"]},
            {"name": "org", "type": "organization_folder", "jobs": [
                {"name": "repo1", "type": "multibranch", "branches": ["main"]}
            ]},
            {"name": "grid", "type": "matrix"},
            {"name": "mvn", "type": "maven"}
        ]
    })
}

struct Sim {
    running: jenkins_sim::Running,
    client: reqwest::Client,
}

async fn sim(cfg: Value) -> Sim {
    sim_at(cfg, "").await
}

async fn sim_at(cfg: Value, context_path: &str) -> Sim {
    let cfg: jenkins_sim::Config = serde_json::from_value(cfg).expect("config");
    let running = jenkins_sim::start(cfg, "127.0.0.1:0", context_path)
        .await
        .expect("starts");
    let client = switchboard_test_support::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Sim { running, client }
}

impl Sim {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.running.url, path.trim_start_matches('/'))
    }
    fn get(&self, path: &str, who: Option<(&str, &str)>) -> reqwest::RequestBuilder {
        let r = self.client.get(self.url(path));
        match who {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        }
    }
    fn post(&self, path: &str, who: Option<(&str, &str)>) -> reqwest::RequestBuilder {
        let r = self.client.post(self.url(path));
        match who {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        }
    }
    async fn json(&self, path: &str) -> Value {
        let r = self.get(path, Some(ALICE)).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.expect("json")
    }
    /// Triggers and returns the queue id from `Location`.
    async fn trigger(&self, path: &str) -> u64 {
        let r = self.post(path, Some(ALICE)).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::CREATED, "POST {path}");
        queue_id(&r)
    }
    /// Waits until the queue item has left the queue; returns the build URL path.
    async fn wait_left(&self, qid: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let item = self.json(&format!("queue/item/{qid}/api/json")).await;
            if item["_class"] == "hudson.model.Queue$LeftItem" {
                return item;
            }
            assert!(Instant::now() < deadline, "item {qid} never left: {item}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    async fn wait_finished(&self, build_path: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let b = self.json(&format!("{build_path}api/json")).await;
            if b["building"] == false {
                return b;
            }
            assert!(Instant::now() < deadline, "never finished: {b}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    fn path_of(&self, url: &str) -> String {
        url.strip_prefix(&self.running.url)
            .expect("url under the root")
            .to_owned()
    }
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).expect("encodes")
}

fn queue_id(r: &reqwest::Response) -> u64 {
    let loc = header(r, "location").expect("Location");
    let id = loc
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .expect("id segment");
    assert!(loc.contains("/queue/item/"), "{loc}");
    id.parse().expect("numeric id")
}

#[tokio::test]
async fn authentication() {
    let s = sim(config()).await;
    // API token and password.
    for who in [ALICE, ALICE_PW, ("ALICE", "tok-alice")] {
        let r = s
            .get("whoAmI/api/json", Some(who))
            .send()
            .await
            .expect("sends");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "x-jenkins"), Some("2.516.1"));
        let v: Value = r.json().await.expect("json");
        assert_eq!(
            v,
            json!({"_class":"hudson.security.WhoAmI","anonymous":false,"authenticated":true,
                   "authorities":["authenticated"],"name":"alice"})
        );
    }
    // Wrong token, wrong password, unknown user: 401 on every URL, before routing.
    for (path, who) in [
        ("api/json", ("alice", "nope")),
        ("job/does-not-exist/api/json", ("alice", "nope")),
        ("whoAmI/api/json", ("mallory", "x")),
        ("totally/unknown", ("bob", "pw-alice")),
    ] {
        let r = s.get(path, Some(who)).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            header(&r, "www-authenticate"),
            Some("Basic realm=\"Jenkins\"")
        );
        assert!(header(&r, "content-type").is_some_and(|c| c.starts_with("text/html")));
        let body = r.text().await.expect("body");
        assert!(body.contains("<html>"), "{body}");
    }
    let r = s
        .post("job/hello/build", Some(("alice", "nope")))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Anonymous: 403 with the headers, except /whoAmI.
    let r = s.get("api/json", None).send().await.expect("sends");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&r, "x-you-are-authenticated-as"), Some("anonymous"));
    assert_eq!(
        header(&r, "x-required-permission"),
        Some("hudson.model.Hudson.Read")
    );
    assert_eq!(header(&r, "x-jenkins"), Some("2.516.1"));
    let v: Value = s
        .get("whoAmI/api/json", None)
        .send()
        .await
        .expect("sends")
        .json()
        .await
        .expect("json");
    assert_eq!(v["anonymous"], true);
    assert_eq!(v["name"], "anonymous");
    // A user without Overall/Read.
    let r = s
        .get("api/json", Some(("dave", "tok-dave")))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&r, "x-you-are-authenticated-as"), Some("dave"));
    assert_eq!(
        header(&r, "x-required-permission"),
        Some("hudson.model.Hudson.Read")
    );
    // Missing Job/Build.
    let r = s
        .post("job/hello/build", Some(BOB))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&r, "x-you-are-authenticated-as"), Some("bob"));
    assert_eq!(
        header(&r, "x-required-permission"),
        Some("hudson.model.Item.Build")
    );
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("bob is missing the Job/Build permission")
    );
    // Invisible jobs are 404; carol sees only the `team` folder.
    let carol = Some(("carol", "tok-carol"));
    let r = s
        .get("job/hello/api/json", carol)
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = s
        .post("job/hello/build", carol)
        .header("Jenkins-Crumb", "x")
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = s
        .get("api/json?tree=jobs[name]", carol)
        .send()
        .await
        .expect("sends")
        .json()
        .await
        .expect("json");
    assert_eq!(
        v["jobs"],
        json!([{"_class":"com.cloudbees.hudson.plugins.folder.Folder","name":"team"}])
    );
    let r = s
        .get("job/team/job/inner/job/deep%20job/api/json", carol)
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::OK);
    s.running.stop().await;
}

#[tokio::test]
async fn crumbs() {
    let s = sim(config()).await;
    let crumb: Value = s
        .get("crumbIssuer/api/json", Some(ALICE_PW))
        .send()
        .await
        .expect("sends")
        .json()
        .await
        .expect("json");
    assert_eq!(crumb["_class"], "hudson.security.csrf.DefaultCrumbIssuer");
    assert_eq!(crumb["crumbRequestField"], "Jenkins-Crumb");
    let value = crumb["crumb"].as_str().expect("crumb").to_owned();
    assert!(value.bytes().all(|b| b.is_ascii_hexdigit()) && value.len() >= 32);
    // Password without a crumb, or with a wrong one: 403.
    for sent in [None, Some("0123abcd")] {
        let mut r = s.post("job/hello/build?delay=0sec", Some(ALICE_PW));
        if let Some(c) = sent {
            r = r.header("Jenkins-Crumb", c);
        }
        let r = r.send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(
            r.text()
                .await
                .expect("body")
                .contains("No valid crumb was included in the request")
        );
    }
    // With the crumb: accepted.
    let r = s
        .post("job/hello/build?delay=0sec", Some(ALICE_PW))
        .header("Jenkins-Crumb", &value)
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::CREATED);
    // Another user's crumb is not valid for alice.
    let bobs: Value = s
        .get("crumbIssuer/api/json", Some(("bob", "pw-bob")))
        .send()
        .await
        .expect("sends")
        .json()
        .await
        .expect("json");
    assert_ne!(bobs["crumb"], crumb["crumb"]);
    // API token: no crumb needed.
    let r = s
        .post("job/hello/build?delay=0sec", Some(ALICE))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::CREATED);
    // Anonymous POST without a crumb: the crumb check comes first.
    let r = s.post("job/hello/build", None).send().await.expect("sends");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("body").contains("No valid crumb"));
    s.running.stop().await;

    // CSRF off: the crumb issuer is a 404 and no crumb is needed.
    let mut cfg = config();
    cfg["csrf"] = json!(false);
    let s = sim(cfg).await;
    let r = s
        .get("crumbIssuer/api/json", Some(ALICE_PW))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = s
        .post("job/hello/build", Some(ALICE_PW))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::CREATED);
    let root = s.json("api/json?tree=useCrumbs").await;
    assert_eq!(root["useCrumbs"], false);
    s.running.stop().await;

    // Session-bound crumbs: valid only with the session cookie of the crumb request.
    let mut cfg = config();
    cfg["csrf"] = json!({"enabled": true, "session_bound": true});
    let s = sim(cfg).await;
    let r = s
        .get("crumbIssuer/api/json", Some(ALICE_PW))
        .send()
        .await
        .expect("sends");
    let cookie = header(&r, "set-cookie")
        .expect("a session cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned();
    assert!(cookie.starts_with("JSESSIONID."), "{cookie}");
    let crumb: Value = r.json().await.expect("json");
    let value = crumb["crumb"].as_str().expect("crumb").to_owned();
    let r = s
        .post("job/hello/build", Some(ALICE_PW))
        .header("Jenkins-Crumb", &value)
        .send()
        .await
        .expect("sends");
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "crumb without its session"
    );
    let r = s
        .post("job/hello/build", Some(ALICE_PW))
        .header("Jenkins-Crumb", &value)
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::CREATED);
    s.running.stop().await;
}

/// Leaf jobs (objects with a `color`) in a `jobs[...]` tree.
fn count_jobs(v: &Value) -> usize {
    v["jobs"].as_array().map_or(0, |jobs| {
        jobs.iter()
            .map(|j| usize::from(j.get("color").is_some()) + count_jobs(j))
            .sum()
    })
}

#[tokio::test]
async fn tree_selection() {
    let s = sim(config()).await;
    let v = s
        .json("api/json?tree=jobs%5Bname,url,color,jobs%5Bname,url,color,jobs%5Bname,url,color%5D%5D%5D")
        .await;
    assert_eq!(v["_class"], "hudson.model.Hudson");
    assert_eq!(v.as_object().expect("object").len(), 2, "{v}");
    let jobs = v["jobs"].as_array().expect("jobs");
    assert!(jobs.iter().all(|j| j.get("_class").is_some()));
    let team = jobs.iter().find(|j| j["name"] == "team").expect("team");
    assert_eq!(team["_class"], "com.cloudbees.hudson.plugins.folder.Folder");
    assert!(team.get("color").is_none(), "containers have no color");
    let deep = &team["jobs"][0]["jobs"][0];
    assert_eq!(deep["name"], "deep job");
    assert_eq!(deep["color"], "aborted");
    assert_eq!(
        deep["url"],
        s.url("job/team/job/inner/job/deep%20job/").as_str()
    );
    assert_eq!(
        deep["_class"],
        "org.jenkinsci.plugins.workflow.job.WorkflowJob"
    );
    let class_of = |name: &str| {
        jobs.iter()
            .find(|j| j["name"] == name)
            .map(|j| j["_class"].clone())
            .expect(name)
    };
    assert_eq!(class_of("hello"), "hudson.model.FreeStyleProject");
    assert_eq!(
        class_of("web"),
        "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"
    );
    assert_eq!(class_of("org"), "jenkins.branch.OrganizationFolder");
    assert_eq!(class_of("grid"), "hudson.matrix.MatrixProject");
    assert_eq!(class_of("mvn"), "hudson.maven.MavenModuleSet");
    assert_eq!(
        jobs.iter().find(|j| j["name"] == "off").expect("off")["color"],
        "disabled"
    );
    assert_eq!(
        jobs.iter().find(|j| j["name"] == "hello").expect("hello")["color"],
        "notbuilt"
    );
    assert_eq!(count_jobs(&v), 10);
    // A branch with a slash: its item name is encoded once, its URL twice.
    let web = s
        .json("job/web/api/json?tree=jobs[name,displayName,url]")
        .await;
    let fx = &web["jobs"][1];
    assert_eq!(fx["name"], "feature%2Fx");
    assert_eq!(fx["displayName"], "feature/x");
    assert_eq!(fx["url"], s.url("job/web/job/feature%252Fx/").as_str());
    let r = s
        .get("job/web/job/feature%252Fx/api/json?tree=name", Some(ALICE))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::OK);
    // Without tree: the top object's properties, nested ones with name/url/color only.
    let plain = s.json("api/json").await;
    let hello = plain["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["name"] == "hello")
        .expect("hello")
        .clone();
    let mut keys: Vec<&str> = hello
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["_class", "color", "name", "url"]);
    assert_eq!(plain["useCrumbs"], true);
    // History with ranges, newest first; `{N}` is one element.
    let job = "job/team/job/inner/job/deep%20job/";
    let numbers = |v: &Value| -> Vec<i64> {
        v["builds"]
            .as_array()
            .expect("builds")
            .iter()
            .map(|b| b["number"].as_i64().expect("number"))
            .collect()
    };
    let all = s
        .json(&format!(
            "{job}api/json?tree=builds[number,result,building,timestamp,duration,url]"
        ))
        .await;
    assert_eq!(numbers(&all), [5, 4, 3, 2, 1]);
    assert_eq!(all["builds"][0]["result"], "ABORTED");
    assert_eq!(all["builds"][0]["building"], false);
    assert!(all["builds"][0]["timestamp"].as_i64().expect("ts") > 1_600_000_000_000);
    for (range, want) in [
        ("%7B0,2%7D", vec![5, 4]),
        ("{1,3}", vec![4, 3]),
        ("{2}", vec![3]),
        ("{3,}", vec![2, 1]),
        ("{,1}", vec![5]),
    ] {
        let v = s
            .json(&format!("{job}api/json?tree=builds[number]{range}"))
            .await;
        assert_eq!(numbers(&v), want, "{range}");
    }
    // Permalinks (UNSTABLE counts as successful, as in Jenkins).
    let links = s
        .json(&format!(
            "{job}api/json?tree=lastBuild[number],lastCompletedBuild[number],lastSuccessfulBuild[number],lastStableBuild[number],lastFailedBuild[number]"
        ))
        .await;
    assert_eq!(links["lastBuild"]["number"], 5);
    assert_eq!(links["lastCompletedBuild"]["number"], 5);
    assert_eq!(links["lastSuccessfulBuild"]["number"], 4);
    assert_eq!(links["lastStableBuild"]["number"], 4);
    assert_eq!(links["lastFailedBuild"]["number"], 2);
    let b = s
        .json(&format!(
            "{job}lastSuccessfulBuild/api/json?tree=number,result"
        ))
        .await;
    assert_eq!(b["number"], 4);
    // `*` selects everything at its level.
    let star = s.json(&format!("{job}4/api/json?tree=*")).await;
    assert_eq!(star["result"], "SUCCESS");
    assert!(star.get("actions").is_some() && star.get("estimatedDuration").is_some());
    // Parameter definitions as in docs/jenkins.md.
    let p = s
        .json("job/params/api/json?tree=property[parameterDefinitions[name,type,description,defaultParameterValue[value],choices]]")
        .await;
    let defs = &p["property"][0]["parameterDefinitions"];
    assert_eq!(
        p["property"][0]["_class"],
        "hudson.model.ParametersDefinitionProperty"
    );
    assert_eq!(defs[0]["type"], "StringParameterDefinition");
    assert_eq!(defs[0]["defaultParameterValue"]["value"], "latest");
    assert_eq!(defs[0]["description"], "tag");
    assert!(defs[0].get("choices").is_none());
    assert_eq!(defs[1]["type"], "ChoiceParameterDefinition");
    assert_eq!(defs[1]["choices"], json!(["staging", "production"]));
    assert_eq!(defs[1]["defaultParameterValue"]["value"], "staging");
    assert_eq!(defs[2]["type"], "BooleanParameterDefinition");
    assert_eq!(defs[2]["defaultParameterValue"]["value"], true);
    // Malformed trees: 500.
    for bad in ["jobs[name", "jobs]", "jobs[name]{1,x}", "", "a,,b"] {
        let r = s
            .get(&format!("api/json?tree={bad}"), Some(ALICE))
            .send()
            .await
            .expect("sends");
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "{bad:?}");
        assert_eq!(header(&r, "x-jenkins"), Some("2.516.1"));
    }
    // Unknown items and builds: 404.
    for path in [
        "job/nope/api/json",
        "job/hello/1/api/json",
        "job/hello/lastBuild/api/json",
        "job/team/job/inner/job/deep%20job/99/api/json",
    ] {
        let r = s.get(path, Some(ALICE)).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    s.running.stop().await;
}

#[tokio::test]
async fn context_path() {
    let s = sim_at(config(), "/jenkins").await;
    assert!(s.running.url.ends_with("/jenkins/"));
    let v = s.json("api/json?tree=url,jobs[url]").await;
    assert_eq!(v["url"], s.running.url.as_str());
    assert_eq!(v["jobs"][0]["url"], s.url("job/hello/").as_str());
    let outside = format!("http://{}/api/json", s.running.addr);
    let r = s
        .client
        .get(outside)
        .basic_auth("alice", Some("tok-alice"))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let qid = s.trigger("job/hello/build?delay=0sec").await;
    let r = s
        .get(&format!("queue/item/{qid}/api/json"), Some(ALICE))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::OK);
    s.running.stop().await;
}

#[tokio::test]
async fn trigger_answers() {
    let s = sim(config()).await;
    let post = |path: &'static str| s.post(path, Some(ALICE)).send();
    // 201 with Location, empty body.
    let r = post("job/hello/build").await.expect("sends");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(
        header(&r, "location")
            .expect("location")
            .starts_with(&s.url("queue/item/"))
    );
    assert!(r.text().await.expect("body").is_empty());
    // A second trigger while the first is still queued: the same item.
    let first = s
        .trigger("job/params/buildWithParameters?ENV=production")
        .await;
    let again = s
        .trigger("job/params/buildWithParameters?ENV=production")
        .await;
    assert_eq!(first, again);
    let other = s
        .trigger("job/params/buildWithParameters?ENV=staging")
        .await;
    assert_ne!(first, other);
    // 400s.
    let r = post("job/params/build").await.expect("sends");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("Nothing is submitted")
    );
    let r = post("job/hello/buildWithParameters").await.expect("sends");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("hello is not parameterized")
    );
    let r = post("job/params/buildWithParameters?ENV=moon")
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post("job/hello/build?delay=soon").await.expect("sends");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // 409 for a disabled job.
    for path in ["job/off/build", "job/off/buildWithParameters"] {
        let r = s.post(path, Some(ALICE)).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::CONFLICT, "{path}");
        assert!(
            r.text()
                .await
                .expect("body")
                .contains("off is not buildable")
        );
    }
    // 405 on GET.
    for path in [
        "job/hello/build",
        "job/params/buildWithParameters",
        "job/params/build",
    ] {
        let r = s.get(path, Some(ALICE)).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(header(&r, "allow"), Some("POST"));
    }
    // Containers cannot be built.
    let r = post("job/team/build").await.expect("sends");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Form parameters (and the parameter form's `json` field on /build) are taken too;
    // missing ones get their defaults, unknown ones are ignored.
    let r = s
        .post("job/params/buildWithParameters", Some(ALICE))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("VERSION", "1.2.3"),
            ("DRY_RUN", "false"),
            ("NOPE", "x"),
        ]))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::CREATED);
    let item = s
        .json(&format!("queue/item/{}/api/json", queue_id(&r)))
        .await;
    assert_eq!(item["_class"], "hudson.model.Queue$WaitingItem");
    assert_eq!(
        item["params"],
        "\nVERSION=1.2.3\nENV=staging\nDRY_RUN=false"
    );
    let r = s
        .post("job/params/build", Some(ALICE))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(&[(
            "json",
            r#"{"parameter":[{"name":"ENV","value":"production"},{"name":"VERSION","value":"9"}]}"#,
        )]))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::CREATED);
    s.running.stop().await;
}

#[tokio::test]
async fn queue_build_result() {
    let s = sim(config()).await;
    let qid = s
        .trigger("job/params/buildWithParameters?ENV=production&delay=0sec")
        .await;
    let left = s.wait_left(qid).await;
    assert_eq!(left["cancelled"], false);
    assert_eq!(left["why"], Value::Null);
    assert_eq!(left["executable"]["number"], 1);
    let url = left["executable"]["url"].as_str().expect("url").to_owned();
    assert_eq!(url, s.url("job/params/1/"));
    let path = s.path_of(&url);
    let tree = "tree=number,url,building,result,duration,estimatedDuration,timestamp,queueId,actions[parameters[name,value],causes[shortDescription,userId]]";
    let running = s.json(&format!("{path}api/json?{tree}")).await;
    if running["building"] == true {
        assert_eq!(running["result"], Value::Null);
        assert_eq!(running["duration"], 0);
        let color = s.json("job/params/api/json?tree=color").await;
        assert_eq!(color["color"], "notbuilt_anime");
    }
    let done = s.wait_finished(&path).await;
    assert_eq!(done["result"], "UNSTABLE");
    assert_eq!(
        done["_class"],
        "org.jenkinsci.plugins.workflow.job.WorkflowRun"
    );
    let full = s.json(&format!("{path}api/json?{tree}")).await;
    assert_eq!(full["queueId"], qid);
    assert_eq!(full["duration"], 300);
    assert_eq!(full["estimatedDuration"], -1);
    let ts = full["timestamp"].as_i64().expect("timestamp");
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("fits");
    assert!((now - ts).abs() < 60_000, "epoch ms: {ts} vs {now}");
    let params = &full["actions"][0];
    assert_eq!(params["_class"], "hudson.model.ParametersAction");
    assert_eq!(
        params["parameters"],
        json!([
            {"_class":"hudson.model.StringParameterValue","name":"VERSION","value":"latest"},
            {"_class":"hudson.model.StringParameterValue","name":"ENV","value":"production"},
            {"_class":"hudson.model.BooleanParameterValue","name":"DRY_RUN","value":true}
        ])
    );
    assert_eq!(
        full["actions"][1]["causes"],
        json!([{"_class":"hudson.model.Cause$UserIdCause","shortDescription":"Started by user Alice A","userId":"alice"}])
    );
    let links = s
        .json("job/params/api/json?tree=color,lastBuild[number],lastCompletedBuild[number],lastSuccessfulBuild[number],nextBuildNumber")
        .await;
    assert_eq!(links["color"], "yellow");
    assert_eq!(links["lastBuild"]["number"], 1);
    assert_eq!(links["lastCompletedBuild"]["number"], 1);
    assert_eq!(links["lastSuccessfulBuild"]["number"], 1);
    assert_eq!(links["nextBuildNumber"], 2);
    // A second build gets an estimate from the first.
    let qid = s.trigger("job/params/buildWithParameters?delay=0sec").await;
    let left = s.wait_left(qid).await;
    assert_eq!(left["executable"]["number"], 2);
    let b = s.json("job/params/2/api/json?tree=estimatedDuration").await;
    assert_eq!(b["estimatedDuration"], 300);
    s.running.stop().await;
}

#[tokio::test]
async fn quiet_period_and_cancel() {
    let s = sim(config()).await;
    let qid = s.trigger("job/hello/build").await;
    let item = s.json(&format!("queue/item/{qid}/api/json")).await;
    assert_eq!(item["_class"], "hudson.model.Queue$WaitingItem");
    assert_eq!(item["id"], qid);
    assert_eq!(item["blocked"], false);
    assert_eq!(item["buildable"], false);
    let why = item["why"].as_str().expect("why");
    assert!(why.starts_with("In the quiet period. Expires in "), "{why}");
    assert_eq!(item["task"]["name"], "hello");
    assert_eq!(item["task"]["url"], s.url("job/hello/").as_str());
    let queue = s.json("queue/api/json?tree=items[id,why]").await;
    assert_eq!(queue["items"][0]["id"], qid);
    let job = s
        .json("job/hello/api/json?tree=inQueue,queueItem[id]")
        .await;
    assert_eq!(job["inQueue"], true);
    assert_eq!(job["queueItem"]["id"], qid);
    // bob may read but not cancel.
    let r = s
        .post(&format!("queue/cancelItem?id={qid}"), Some(BOB))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        header(&r, "x-required-permission"),
        Some("hudson.model.Item.Cancel")
    );
    let r = s
        .post(&format!("queue/cancelItem?id={qid}"), Some(ALICE))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let item = s.json(&format!("queue/item/{qid}/api/json")).await;
    assert_eq!(item["_class"], "hudson.model.Queue$LeftItem");
    assert_eq!(item["cancelled"], true);
    assert_eq!(item["executable"], Value::Null);
    let r = s
        .post(&format!("queue/cancelItem?id={qid}"), Some(ALICE))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = s
        .get(&format!("queue/cancelItem?id={qid}"), Some(ALICE))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let job = s.json("job/hello/api/json?tree=inQueue,lastBuild").await;
    assert_eq!(job["inQueue"], false);
    assert_eq!(job["lastBuild"], Value::Null);
    let r = s
        .get("queue/item/999/api/json", Some(ALICE))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    s.running.stop().await;
}

#[tokio::test]
async fn blocked_and_buildable_items() {
    // No executors: items become buildable and stay there.
    let mut cfg = config();
    cfg["executors"] = json!(0);
    let s = sim(cfg).await;
    let qid = s.trigger("job/hello/build?delay=0sec").await;
    let item = s.json(&format!("queue/item/{qid}/api/json")).await;
    assert_eq!(item["_class"], "hudson.model.Queue$BuildableItem");
    assert_eq!(item["buildable"], true);
    assert_eq!(item["why"], "Waiting for next available executor");
    s.running.stop().await;
    // A freestyle job does not run concurrently: the second item is blocked.
    let s = sim(config()).await;
    let first = s.trigger("job/slow/build?delay=0sec").await;
    s.wait_left(first).await;
    let second = s.trigger("job/slow/build?delay=0sec").await;
    let item = s.json(&format!("queue/item/{second}/api/json")).await;
    assert_eq!(item["_class"], "hudson.model.Queue$BlockedItem");
    assert_eq!(item["blocked"], true);
    assert!(
        item["why"]
            .as_str()
            .expect("why")
            .starts_with("Build #1 is already in progress")
    );
    // Stopping the first lets the second start.
    let r = s
        .post("job/slow/1/stop", Some(ALICE))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::FOUND);
    let left = s.wait_left(second).await;
    assert_eq!(left["executable"]["number"], 2);
    s.running.stop().await;
}

#[tokio::test]
async fn progressive_log() {
    let s = sim(config()).await;
    let qid = s.trigger("job/hello/build?delay=0sec").await;
    let left = s.wait_left(qid).await;
    let path = s.path_of(left["executable"]["url"].as_str().expect("url"));
    let mut text = String::new();
    let mut start = 0u64;
    let mut polls_with_more = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = s
            .get(
                &format!("{path}logText/progressiveText?start={start}"),
                Some(ALICE),
            )
            .send()
            .await
            .expect("sends");
        assert_eq!(r.status(), StatusCode::OK);
        assert!(header(&r, "content-type").is_some_and(|c| c.starts_with("text/plain")));
        let size: u64 = header(&r, "x-text-size")
            .expect("X-Text-Size")
            .parse()
            .expect("number");
        let more = header(&r, "x-more-data") == Some("true");
        let chunk = r.text().await.expect("text");
        assert_eq!(start + chunk.len() as u64, size);
        text.push_str(&chunk);
        start = size;
        if !more {
            break;
        }
        polls_with_more += 1;
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert!(polls_with_more >= 2, "saw the log grow");
    assert!(text.starts_with("Started by user Alice A\n"), "{text}");
    assert!(text.contains("one\ntwo\nthree\nfour\nfive\n"), "{text}");
    assert!(text.ends_with("Finished: SUCCESS\n"), "{text}");
    let whole = s
        .get(&format!("{path}consoleText"), Some(ALICE))
        .send()
        .await
        .expect("sends")
        .text()
        .await
        .expect("text");
    assert_eq!(whole, text);
    // Past the end: from the start again (Stapler's "text rolled over").
    let r = s
        .get(
            &format!("{path}logText/progressiveText?start=999999"),
            Some(ALICE),
        )
        .send()
        .await
        .expect("sends");
    assert!(header(&r, "x-more-data").is_none());
    assert_eq!(r.text().await.expect("text"), text);
    s.running.stop().await;
}

#[tokio::test]
async fn stop_aborts() {
    let s = sim(config()).await;
    let qid = s.trigger("job/slow/build?delay=0sec").await;
    let left = s.wait_left(qid).await;
    let path = s.path_of(left["executable"]["url"].as_str().expect("url"));
    let job = s.json("job/slow/api/json?tree=color").await;
    assert_eq!(job["color"], "notbuilt_anime");
    let r = s
        .post(&format!("{path}stop"), Some(BOB))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        header(&r, "x-required-permission"),
        Some("hudson.model.Item.Cancel")
    );
    let r = s
        .get(&format!("{path}stop"), Some(ALICE))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let r = s
        .post(&format!("{path}stop"), Some(ALICE))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::FOUND);
    let b = s.wait_finished(&path).await;
    assert_eq!(b["result"], "ABORTED");
    assert!(b["duration"].as_i64().expect("duration") < 60_000);
    let log = s
        .get(&format!("{path}consoleText"), Some(ALICE))
        .send()
        .await
        .expect("sends")
        .text()
        .await
        .expect("text");
    assert!(log.contains("Aborted by Alice A\n"), "{log}");
    assert!(log.ends_with("Finished: ABORTED\n"), "{log}");
    let job = s.json("job/slow/api/json?tree=color").await;
    assert_eq!(job["color"], "aborted");
    s.running.stop().await;
}

#[tokio::test]
async fn ten_thousand_jobs() {
    let mut cfg = config();
    cfg["jobs"] = json!([]);
    cfg["generate"] = json!({"folders_depth": 2, "folders_per_level": 10, "jobs_per_folder": 90, "root_jobs": 100});
    let s = sim(cfg).await;
    assert_eq!(s.running.jobs, 10_000);
    // One request with a nested tree brings back every job.
    let mut requests = 0;
    let v = s
        .json("api/json?tree=jobs[name,url,color,jobs[name,url,color,jobs[name,url,color]]]")
        .await;
    requests += 1;
    assert_eq!(count_jobs(&v), 10_000);
    assert!(requests <= 1);
    let first_leaf = &v["jobs"][100]["jobs"][90]["jobs"][0];
    assert_eq!(first_leaf["name"], "gen-job-1");
    assert_eq!(
        first_leaf["url"],
        s.url("job/gen-f1-1/job/gen-f2-1/job/gen-job-1/").as_str()
    );
    // Paged with ranges: the same count in a bounded number of requests.
    let mut total = 0;
    let mut pages = 0;
    for from in (0..200).step_by(50) {
        let page = s
            .json(&format!(
                "api/json?tree=jobs[name,color,jobs[name,color,jobs[name,color]]]{{{from},{}}}",
                from + 50
            ))
            .await;
        pages += 1;
        total += count_jobs(&page);
    }
    assert_eq!((total, pages), (10_000, 4));
    s.running.stop().await;
}

#[tokio::test]
async fn the_binary_prints_its_url() {
    use tokio::io::AsyncBufReadExt as _;
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.json");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_jenkins-sim"))
        .args([
            "--config",
            demo,
            "--bind",
            "127.0.0.1:0",
            "--context-path",
            "/jenkins",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawns");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("in time")
        .expect("reads")
        .expect("a line");
    let url = first
        .strip_prefix("jenkins-sim listening on ")
        .expect("the announcement")
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/jenkins/"),
        "{url}"
    );
    let client = switchboard_test_support::http_client()
        .build()
        .expect("client");
    let who: Value = client
        .get(format!("{url}whoAmI/api/json"))
        .basic_auth("admin", Some("11a7e1d6b1c2d3e4f5a6b7c8d9e0f1a2b3"))
        .send()
        .await
        .expect("sends")
        .json()
        .await
        .expect("json");
    assert_eq!(who["name"], "admin");
    let tree: Value = client
        .get(format!(
            "{url}job/platform/api/json?tree=jobs[name,color,jobs[name,color]]"
        ))
        .basic_auth("viewer", Some("11b0f2e3d4c5b6a79881726354453627ab"))
        .send()
        .await
        .expect("sends")
        .json()
        .await
        .expect("json");
    assert_eq!(count_jobs(&tree), 5);
    child.kill().await.expect("kills");
}

#[tokio::test]
async fn runtime_changes_through_control() {
    let s = sim(config()).await;
    let control = s.running.control();
    let before = control.job_count().expect("count");
    assert_eq!(before, s.running.jobs);

    let added: Vec<jenkins_sim::config::ItemConfig> = serde_json::from_value(json!([
        {"name": "fresh", "type": "freestyle"},
        {"name": "sub", "type": "folder", "jobs": [{"name": "leaf", "type": "pipeline"}]}
    ]))
    .expect("items");
    control.add_items("team/inner", &added).expect("added");
    let job = s
        .json("job/team/job/inner/job/sub/job/leaf/api/json?tree=name")
        .await;
    assert_eq!(job["name"], "leaf");
    assert!(
        control.add_items("hello", &added).is_err(),
        "a freestyle job holds nothing"
    );
    assert!(control.add_items("nowhere", &added).is_err());
    assert!(
        control.add_items("team/inner", &added).is_err(),
        "names stay unique"
    );

    // A queued item of a deleted job is cancelled with it.
    let qid = s.trigger("job/hello/build").await;
    control.remove_item("hello").expect("removed");
    let r = s
        .get("job/hello/api/json", Some(ALICE))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let item = s.json(&format!("queue/item/{qid}/api/json")).await;
    assert_eq!(item["cancelled"], true);
    control.remove_item("team").expect("folder removed");
    let root = s.json("api/json?tree=jobs[name]").await;
    let names: Vec<&str> = root["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["name"].as_str())
        .collect();
    assert!(
        !names.contains(&"hello") && !names.contains(&"team"),
        "{names:?}"
    );
    // hello, deep job, and the two added jobs are gone.
    assert_eq!(control.job_count().expect("count"), before - 2);
    assert!(control.remove_item("team").is_err());

    control.forget_left_items().expect("forgotten");
    let r = s
        .get(&format!("queue/item/{qid}/api/json"), Some(ALICE))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    control.set_outage(Some(500)).expect("outage");
    let r = s.get("api/json", Some(ALICE)).send().await.expect("sends");
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let r = s.get("whoAmI/api/json", None).send().await.expect("sends");
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    control.set_outage(None).expect("recovered");
    let r = s.get("api/json", Some(ALICE)).send().await.expect("sends");
    assert_eq!(r.status(), StatusCode::OK);
    s.running.stop().await;
}
