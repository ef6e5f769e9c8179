use super::*;

const AID: &str = "7378312E73682EC9E7BBE1B1A3D5CF";

#[test]
fn gen3_fci() {
    let bytes = hex::decode(format!("6F1C840F{AID}A5069F0C038601038A0104")).unwrap();
    let fci = Fci::parse(&bytes).unwrap();
    assert_eq!(fci.algorithm, Some(3));
    assert_eq!(fci.lcs, Some(4));
    assert_eq!(fci.life_cycle(), Some(LifeCycle::Inactive));
    assert_eq!(fci.df_name, hex::decode(AID).ok());
}

#[test]
fn gen2_fci_has_no_lcs() {
    let bytes = hex::decode(format!("6F19840F{AID}A5069F0C03860101")).unwrap();
    let fci = Fci::parse(&bytes).unwrap();
    assert_eq!((fci.algorithm, fci.lcs), (Some(1), None));
}

#[test]
fn children_in_another_order_parse_the_same() {
    let bytes = hex::decode(format!("6F1C8A0105A5069F0C03860103840F{AID}")).unwrap();
    let fci = Fci::parse(&bytes).unwrap();
    assert_eq!((fci.algorithm, fci.life_cycle()), (Some(3), Some(LifeCycle::Active)));
}

#[test]
fn not_an_fci() {
    assert_eq!(Fci::parse(&[]), None);
    assert_eq!(Fci::parse(&[0x62, 0x00]), None);
    assert_eq!(Fci::parse(&[0x6F, 0x05, 0x84]), None);
}
