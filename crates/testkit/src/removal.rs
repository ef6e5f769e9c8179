//! Cards pulled out mid-call: inserting a card image with the simulator's
//! `--remove-after`, and checking the bench after the removal.

use std::path::Path;
use std::time::Duration;

use sscard_sim::{CardImage, UserCard};

use super::bench::Slot;
use super::client::Rig;

pub const SERIAL: &str = "0102030405060708";

/// Inserts the card of `image` (a fresh blank one when the file is
/// missing), pulled out at its `remove_after`-th APDU if given.
pub async fn insert(rig: &mut Rig, generation: u8, image: &Path, remove_after: Option<usize>) {
    let image_arg = image.to_string_lossy().into_owned();
    let n = remove_after.map(|n| n.to_string()).unwrap_or_default();
    let mut args = vec!["--image", image_arg.as_str(), "--serial", SERIAL];
    if remove_after.is_some() {
        args.extend(["--remove-after", n.as_str()]);
    }
    let _ = std::fs::remove_file(rig.card_log(Slot::Card));
    rig.insert_card(Slot::Card, generation, &args).await;
}

/// The card's APDUs so far.
pub fn count(rig: &Rig) -> usize {
    rig.logged(Slot::Card).len()
}

pub fn load(path: &Path) -> CardImage {
    let image = CardImage::load(path).unwrap_or_else(|e| panic!("torn image: {e}"));
    UserCard::from_image(image.clone()).unwrap_or_else(|e| panic!("inconsistent image: {e}"));
    image
}

/// Stops the card of an uninterrupted run, saving its image.
pub async fn take_out(rig: &mut Rig) {
    rig.bench.remove(Slot::Card);
    rig.wait_kind(Slot::Card, "none").await;
}

/// After the call that lost its card: the simulator ended by itself, the
/// daemon saw the removal, and still answers.
pub async fn after_removal(rig: &mut Rig, what: &str) {
    assert_eq!(rig.bench.wait_exit(Slot::Card, Duration::from_secs(10)), Some(0), "{what}: simulator exit");
    rig.wait_kind(Slot::Card, "none").await;
    assert!(rig.daemon.running(), "{what}: the daemon died");
    let manager = rig.manager().await;
    assert_eq!(manager.list_readers().await.expect("ListReaders").len(), 2, "{what}");
}
