//! Every Reader1 and Manager1 method against gen2 and gen3 cards, through
//! sscardd on a private bus, with the project's own zbus proxies.

mod support;

use support::bench::Slot;
use support::client::*;

#[tokio::test]
async fn gen3_counter_workflow() {
    let rig = Rig::new(3, true).await;
    let reader = rig.reader(Slot::Card).await;
    let blank = reader.read_card(no_opts()).await.expect("ReadCard");
    assert_eq!(text(&blank, "state").as_deref(), Some("blank"));
    let written = reader.write_holder_record(holder_dict(3, Some(600)), no_opts()).await.expect("WriteHolderRecord");
    assert_eq!(text(&written, "digest").map(|d| d.len()), Some(64));
    let info = reader.read_card(opts(&[("photo", true), ("authenticate", true)])).await.expect("ReadCard");
    assert_eq!(text(&info, "ssn").as_deref(), Some(SSN));
    assert_eq!(bytes(&info, "photo"), Some(jpeg(600)));
    assert_eq!(boolean(&info, "authentic"), Some(true));
    let activated = reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await.expect("Activate");
    assert_eq!(text(&activated, "state").as_deref(), Some("active"));
    assert_eq!(reader.verify_pin(NEW_PIN, no_opts()).await.expect("VerifyPin"), (true, 3));
}
