use dsi_core::{Collection, Column, DataType, Driver, Table, Value};
#[test]
fn dbg() {
    let dir = tempfile::tempdir().unwrap();
    let d = dsi_driver_parquet::Dataset::open_local(dir.path()).unwrap();
    let t0 = std::time::Instant::now();
    for i in 0..120 {
        let t = Table::from_columns("t", vec![Column::new("n", DataType::Int, vec![Value::Int(i)]).unwrap()]).unwrap();
        let s = std::time::Instant::now();
        d.put(&Collection::of(t)).unwrap();
        if i % 10 == 0 { eprintln!("put {i}: {:?}", s.elapsed()); }
    }
    eprintln!("total {:?}", t0.elapsed());
    let s = std::time::Instant::now();
    eprintln!("count {} in {:?}", d.count(&dsi_core::TableQuery::new("t")).unwrap(), s.elapsed());
}
