//! Typed ops: conversions of arguments and results (ndarray arrays and views, integers,
//! options, tuples), task errors converted from other errors with their source kept, and
//! taking payloads out of values without a copy.

use blockwork::array::{ArrayContext, Block, DType};
use blockwork::ndarray::{
    Array1, Array2, ArrayD, ArrayView1, ArrayView2, ArrayViewD, IxDyn, array,
};
use blockwork::{
    Arg, Error, ErrorKind, Executor, GraphBuilder, Op, Pool, Sequential, TaskError, Value,
};
use std::sync::Arc;

fn call(op: &Op, args: &[Value]) -> Result<Value, TaskError> {
    op.call(args)
}

#[test]
fn array_results_are_blocks_with_their_size() {
    let make = Op::typed("make", |n: usize| Array2::<f64>::from_elem((n, 3), 1.5));
    let v = call(&make, &[Value::Int(4)]).unwrap();
    assert_eq!(v.nbytes(), 4 * 3 * 8);
    let b = v.downcast_ref::<Block>().unwrap();
    assert_eq!(b.dtype(), DType::F64);
    assert_eq!(b.data().shape(), &[4, 3]);
    let f32s = Op::typed("f32s", || array![1.0f32, 2.0]);
    assert_eq!(call(&f32s, &[]).unwrap().nbytes(), 8);
}

#[test]
fn arrays_and_views_as_arguments() {
    let a = Array2::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f64);
    let block =
        Block::new(blockwork::array::BlockData::F64(a.clone().into_dyn()), None).into_value();
    let owned = Op::typed("owned", |x: Array2<f64>| x.t().to_owned());
    let dynamic = Op::typed("dynamic", |x: ArrayD<f64>| x.sum());
    let view = Op::typed("view", |x: ArrayView2<f64>, k: f64| x.row(1).sum() * k);
    let view_d = Op::typed("view_d", |x: ArrayViewD<f64>| x.len());
    let t = call(&owned, std::slice::from_ref(&block)).unwrap();
    let t = t
        .downcast_ref::<Block>()
        .unwrap()
        .data()
        .as_array::<f64>()
        .unwrap()
        .clone();
    assert_eq!(t, a.t().to_owned().into_dyn());
    assert_eq!(
        call(&dynamic, std::slice::from_ref(&block)).unwrap(),
        Value::Float(66.0)
    );
    assert_eq!(
        call(&view, &[block.clone(), Value::Float(2.0)]).unwrap(),
        Value::Float((4.0 + 5.0 + 6.0 + 7.0) * 2.0)
    );
    assert_eq!(call(&view_d, &[block]).unwrap(), Value::Int(12));
}

#[test]
fn array_argument_errors_name_expected_and_actual() {
    let view1 = Op::typed("v1", |x: ArrayView1<f64>| x.sum());
    let e = call(&view1, &[Value::Int(3)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Type);
    assert_eq!(e.message(), "expected an array block of float64, got int");
    let ints = call(&Op::typed("i", || array![1i64, 2]), &[]).unwrap();
    let e = call(&view1, &[ints]).unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::Type,
            "expected an array block of float64, got one of int64"
        )
    );
    let two_d = call(&Op::typed("m", || Array2::<f64>::zeros((2, 2))), &[]).unwrap();
    let e = call(&view1, &[two_d]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    assert!(e.message().contains("1 axes, got 2"), "{}", e.message());
}

#[test]
fn typed_ops_read_the_blocks_of_an_array_computation() {
    let ctx = ArrayContext::new();
    let data = ArrayD::from_shape_fn(IxDyn(&[6, 4]), |i| (i[0] * 10 + i[1]) as f64);
    let x = ctx.from_ndarray(&data, [3, 2]).unwrap().mul(2.0).unwrap();
    let mut graph = x.graph().unwrap();
    let norm = Op::typed("block_max", |b: ArrayView2<f64>| {
        b.iter().cloned().fold(f64::MIN, f64::max)
    });
    let key = blockwork::Key::from("max-of-block-1-1");
    graph.insert(
        key.clone(),
        blockwork::Node::Task(blockwork::Task::new(
            &norm,
            [Arg::key(x.block_key(&[1, 1]))],
        )),
    );
    // Block (1, 1) holds rows 3..6 and columns 2..4: its largest element is data[5, 3] * 2.
    let got = Pool::new(2).unwrap().get(&graph, key).unwrap();
    assert_eq!(got, Value::Float(data[[5, 3]] * 2.0));
}

#[test]
fn integers_floats_options_and_tuples() {
    let op = Op::typed("mix", |a: u64, b: u32, c: i32, d: usize, e: f32| {
        (a + u64::from(b), i64::from(c) * d as i64, f64::from(e))
    });
    let out = call(
        &op,
        &[
            Value::Int(1),
            Value::Int(2),
            Value::Int(-3),
            Value::Int(4),
            Value::Float(0.5),
        ],
    )
    .unwrap();
    assert_eq!(
        out,
        Value::list([Value::Int(3), Value::Int(-12), Value::Float(0.5)])
    );

    let opt = Op::typed("opt", |x: Option<i64>| x.map(|v| v * 2));
    assert_eq!(call(&opt, &[Value::Unit]).unwrap(), Value::Unit);
    assert_eq!(call(&opt, &[Value::Int(4)]).unwrap(), Value::Int(8));
    let swap = Op::typed("swap", |p: (String, Vec<usize>)| (p.1, p.0));
    let pair = Value::list([Value::from("a"), Value::list([1i64, 2])]);
    assert_eq!(
        call(&swap, &[pair]).unwrap(),
        Value::list([Value::list([1i64, 2]), Value::from("a")])
    );
}

#[test]
fn bad_numbers_are_typed_errors() {
    let op = Op::typed("u", |x: usize| x);
    let e = call(&op, &[Value::Int(-1)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Overflow);
    let e = call(&op, &[Value::Float(1.0)]).unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::Type, "expected usize, got float")
    );
    let i = Op::typed("i", |x: i32| x);
    assert_eq!(
        call(&i, &[Value::Int(1 << 40)]).unwrap_err().kind(),
        ErrorKind::Overflow
    );
    let f = Op::typed("f", |x: f32| x);
    assert_eq!(
        call(&f, &[Value::Float(1e300)]).unwrap_err().kind(),
        ErrorKind::Overflow
    );
    assert_eq!(
        call(&f, &[Value::Float(f64::INFINITY)]).unwrap(),
        Value::Float(f64::INFINITY)
    );
    let big = Op::typed("big", || u64::MAX);
    assert_eq!(call(&big, &[]).unwrap_err().kind(), ErrorKind::Overflow);
    let small = Op::typed("small", || i64::MAX as u64);
    assert_eq!(call(&small, &[]).unwrap(), Value::Int(i64::MAX));
    let tuple = Op::typed("t", |p: (i64, i64)| p.0 + p.1);
    let e = call(&tuple, &[Value::list([1i64, 2, 3])]).unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::Type, "expected a list of 2, got a list of 3")
    );
}

#[derive(Debug)]
struct ModelError {
    code: u32,
}
impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "model failed with code {}", self.code)
    }
}
impl std::error::Error for ModelError {}

fn run_one(op: &Op, args: Vec<Arg>) -> Error {
    let mut g = GraphBuilder::new();
    g.task("t", op, args).unwrap();
    Sequential::new().get(&g.build(), "t").unwrap_err()
}

#[test]
fn errors_convert_with_question_mark_and_keep_their_source() {
    let read = Op::typed("read", |path: String| -> Result<usize, TaskError> {
        Ok(std::fs::read(path)?.len())
    });
    let e = run_one(&read, vec![Arg::lit("/no/such/blockwork/file")]);
    assert_eq!(
        (e.kind(), e.task_cause()),
        (ErrorKind::TaskFailed, Some(ErrorKind::Io))
    );
    let io = std::error::Error::source(&e)
        .unwrap()
        .downcast_ref::<std::io::Error>()
        .unwrap();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);

    let reshape = Op::typed("reshape", |n: usize| -> Result<Array2<f64>, TaskError> {
        Ok(Array1::<f64>::zeros(n).into_shape_with_order((2, 3))?)
    });
    let e = run_one(&reshape, vec![Arg::lit(5)]);
    assert_eq!(e.task_cause(), Some(ErrorKind::Shape));
    assert!(
        std::error::Error::source(&e)
            .unwrap()
            .is::<blockwork::ndarray::ShapeError>()
    );

    let fit = Op::typed("fit", |c: u32| -> Result<i64, ModelError> {
        Err(ModelError { code: c })
    });
    let e = run_one(&fit, vec![Arg::lit(7)]);
    let mine = std::error::Error::source(&e)
        .unwrap()
        .downcast_ref::<ModelError>()
        .unwrap();
    assert_eq!(mine.code, 7);
    assert_eq!(
        e.to_string(),
        "task t (fit) failed: model failed with code 7"
    );

    let plain = Op::typed("plain", || -> Result<i64, TaskError> {
        Err("no good".into())
    });
    let e = run_one(&plain, vec![]);
    assert!(std::error::Error::source(&e).is_none());
    assert_eq!(e.to_string(), "task t (plain) failed: no good");
}

#[test]
fn try_take_moves_the_payload_without_a_copy() {
    let data = vec![1.0f64; 1000];
    let ptr = data.as_ptr();
    let v = Value::opaque(data, 8000);
    let other = v.clone();
    let v = v.try_take::<Vec<f64>>().unwrap_err(); // shared: given back
    let v = v.try_take::<String>().unwrap_err(); // another type: given back
    assert!(v.downcast_ref::<Vec<f64>>().is_some());
    drop(other);
    let back = v.try_take::<Vec<f64>>().unwrap();
    assert_eq!(back.as_ptr(), ptr);
    assert_eq!(back.len(), 1000);

    // A payload made by `Value::payload` is taken as its own type.
    let part = blockwork::bag::Partition(vec![String::from("x")]);
    let sptr = part.0[0].as_ptr();
    let taken = Value::payload(part)
        .try_take::<blockwork::bag::Partition<String>>()
        .unwrap();
    assert_eq!(taken.0[0].as_ptr(), sptr);

    // Computed results come out of a run as the last reference.
    let op = Op::typed("make", |n: usize| Arc::new(vec![7u8; n]));
    let mut g = GraphBuilder::new();
    g.task("v", &op, [Arg::lit(3)]).unwrap();
    let v = Pool::new(2).unwrap().get(&g.build(), "v").unwrap();
    assert_eq!(*v.try_take::<Arc<Vec<u8>>>().unwrap(), vec![7u8; 3]);
}

#[test]
fn arc_payloads_pass_between_typed_ops_without_copies() {
    struct Model {
        weights: Vec<f64>,
    }
    let fit = Op::typed("fit", |n: usize| {
        Arc::new(Model {
            weights: vec![0.5; n],
        })
    });
    let score = Op::typed("score", |m: Arc<Model>, x: f64| {
        m.weights.iter().sum::<f64>() * x
    });
    let mut g = GraphBuilder::new();
    g.task("m", &fit, [Arg::lit(4)]).unwrap();
    g.task("s", &score, [Arg::key("m"), Arg::lit(3.0)]).unwrap();
    assert_eq!(
        Pool::new(2).unwrap().get(&g.build(), "s").unwrap(),
        Value::Float(6.0)
    );
    let e = call(&score, &[Value::Int(1), Value::Float(1.0)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Type);
    assert!(
        e.message().contains("Model") && e.message().ends_with("got int"),
        "{}",
        e.message()
    );
}

#[test]
fn try_take_moves_array_results_and_arc_contents_out_without_a_copy() {
    use blockwork::array::BlockData;
    // An array a typed op returns travels as an array block: taken as the op's array type
    // (or as `ArrayD`, or as `BlockData`) when the value is the last reference.
    let make = Op::typed("make", |r: usize, c: usize| {
        Array2::from_shape_fn((r, c), |(i, j)| (i * c + j) as f64)
    });
    let mut g = GraphBuilder::new();
    g.task("m", &make, [Arg::lit(3), Arg::lit(4)]).unwrap();
    let g = g.build();
    let want = Array2::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f64);
    let ptr_of = |v: &Value| {
        Block::data_of(v)
            .unwrap()
            .as_array::<f64>()
            .unwrap()
            .as_ptr()
    };
    let pool = Pool::new(2).unwrap();
    let get = |sequential: bool| {
        if sequential {
            Sequential::new().get(&g, "m").unwrap()
        } else {
            pool.get(&g, "m").unwrap()
        }
    };
    for sequential in [false, true] {
        let v = get(sequential);
        let ptr = ptr_of(&v);
        let other = v.clone();
        let v = v.try_take::<Array2<f64>>().unwrap_err(); // shared: given back
        let v = v.try_take::<ArrayD<f32>>().unwrap_err(); // another element type
        let v = v.try_take::<Array1<f64>>().unwrap_err(); // another number of axes
        let v = v.try_take::<Vec<f64>>().unwrap_err(); // not an array type
        assert_eq!(ptr_of(&v), ptr);
        drop(other);
        let m = v.try_take::<Array2<f64>>().unwrap();
        assert_eq!(m.as_ptr(), ptr, "moved, not copied");
        assert_eq!(m, want);
        let v = get(sequential);
        let ptr = ptr_of(&v);
        let d = v.try_take::<ArrayD<f64>>().unwrap();
        assert_eq!((d.as_ptr(), d.shape()), (ptr, &[3, 4][..]));
        let v = get(sequential);
        let ptr = ptr_of(&v);
        match v.try_take::<BlockData>().unwrap() {
            BlockData::F64(a) => assert_eq!(a.as_ptr(), ptr),
            other => panic!("{other:?}"),
        }
    }
    // The contents of an `Arc<T>` result, taken as `T` when nothing else holds the `Arc`.
    let op = Op::typed("make", |n: usize| Arc::new(vec![7u8; n]));
    let mut g = GraphBuilder::new();
    g.task("v", &op, [Arg::lit(3)]).unwrap();
    let v = Pool::new(2).unwrap().get(&g.build(), "v").unwrap();
    let ptr = v.downcast_ref::<Arc<Vec<u8>>>().unwrap().as_ptr();
    let held = v.downcast_ref::<Arc<Vec<u8>>>().unwrap().clone();
    let v = v.try_take::<Vec<u8>>().unwrap_err(); // `held` shares the Arc
    drop(held);
    let taken = v.try_take::<Vec<u8>>().unwrap();
    assert_eq!((taken.as_ptr(), taken), (ptr, vec![7u8; 3]));
}
