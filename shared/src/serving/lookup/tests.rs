use super::*;
use crate::serving::key::key;

#[test]
fn the_cells_of_a_key_lie_between_its_bounds_and_no_other_keys_do() {
    let k = key("docs", "guide", "a");
    let (low, high) = bounds(&k);
    let cell = |k: &[u8]| {
        let mut c = k.to_vec();
        c.extend_from_slice(b"\0{\"ts\":1}");
        c
    };
    assert!(low.as_slice() <= cell(&k).as_slice() && cell(&k).as_slice() < high.as_slice());
    for other in [key("docs", "guide", "ab"), key("docs", "guide", "a "), key("docs", "guide", ""), key("docs", "guidf", "a")] {
        let c = cell(&other);
        assert!(!(low.as_slice() <= c.as_slice() && c.as_slice() < high.as_slice()), "{other:?}");
    }
}
