// Optional native kernels for the kit's wasm backend: conv2d forward and both
// of its gradients on oneDNN (Debian's libdnnl-dev), which uses the CPU's full
// vector width (AVX2 / AVX-512) and every core, where wasm has 128-bit SIMD on
// one thread. Tensors are not copied: the kernels read and write the wasm heap
// through the Float32Array views that src/kernels/native_dnnl.ts passes in.
//
// Layouts are tfjs's: activations NHWC, filters HWIO. oneDNN picks its own
// (blocked) filter layout; filters are reordered to and from it on each call,
// which is cheap next to the convolution.
//
// Built by scripts/build-native.js (g++, node_api.h, -ldnnl); loaded only
// where it was built, so a plain `npm install` never depends on it.
#include <node_api.h>
#include <omp.h>

#include <dnnl.hpp>
#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>

namespace elementwise {
void binary(int op, const float* a, const float* b, float* out, int64_t rows, int64_t cols, int64_t sa, int64_t sb);
void sum_rows(const float* x, float* out, int64_t rows, int64_t cols, float divisor);
}  // namespace elementwise

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

enum Mode { kForward = 0, kBackwardData = 1, kBackwardWeights = 2 };

// One convolution shape: B, H, W, CI, OH, OW, CO, KH, KW, sh, sw, pad top, left, bottom, right.
struct Shape {
  int64_t b, h, w, ci, oh, ow, co, kh, kw, sh, sw, pt, pl, pb, pr;
};

dnnl::engine& engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

// Waking the other threads costs about half a millisecond when they have gone to sleep between
// two calls (measured with DNNL_VERBOSE on bench32: a 256x256 by 256x1 product took 0.54 ms on
// 2 threads, 0.06 ms back to back), more than small products and convolutions take on one thread.
// Those are created and run on the calling thread alone: the choice depends on the shape only.
constexpr double kThreadedFromFlops = 16e6;

// Runs the enclosing scope's oneDNN work on one thread when `alone`, restoring the count after.
class ThreadScope {
 public:
  explicit ThreadScope(bool alone) : saved_(omp_get_max_threads()), alone_(alone && saved_ > 1) {
    if (alone_) omp_set_num_threads(1);
  }
  ~ThreadScope() {
    if (alone_) omp_set_num_threads(saved_);
  }

 private:
  int saved_;
  bool alone_;
};

double conv_flops(const Shape& s) { return 2.0 * s.b * s.oh * s.ow * s.co * s.ci * s.kh * s.kw; }

// A ready primitive for one (mode, shape), with the filter reorder it needs and the
// memory objects whose data handles are pointed at the caller's arrays on each call.
struct Plan {
  dnnl::primitive conv;
  memory act_in, act_out;    // src/dst (forward), diff_dst/diff_src (data), src/diff_dst (weights)
  memory user_filter, filter;  // HWIO as tfjs holds it, and oneDNN's layout when it differs
  bool reorder = false;
  dnnl::reorder filter_reorder;  // user -> oneDNN (forward, data) or oneDNN -> user (weights)
};

std::unordered_map<std::string, std::unique_ptr<Plan>>& plans() {
  static std::unordered_map<std::string, std::unique_ptr<Plan>> m;
  return m;
}

std::unique_ptr<Plan> make_plan(Mode mode, const Shape& s) {
  auto& eng = engine();
  memory::desc src({s.b, s.ci, s.h, s.w}, dt::f32, tag::nhwc);
  memory::desc dst({s.b, s.co, s.oh, s.ow}, dt::f32, tag::nhwc);
  memory::desc user_w({s.co, s.ci, s.kh, s.kw}, dt::f32, tag::hwio);
  memory::desc any_w({s.co, s.ci, s.kh, s.kw}, dt::f32, tag::any);
  memory::dims strides = {s.sh, s.sw}, pad_l = {s.pt, s.pl}, pad_r = {s.pb, s.pr};

  dnnl::convolution_forward::desc fwd_d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                        src, any_w, dst, strides, pad_l, pad_r);
  dnnl::convolution_forward::primitive_desc fwd_pd(fwd_d, eng);

  auto plan = std::make_unique<Plan>();
  memory::desc w_md;
  if (mode == kForward) {
    plan->conv = dnnl::convolution_forward(fwd_pd);
    plan->act_in = memory(src, eng, nullptr);
    plan->act_out = memory(dst, eng, nullptr);
    w_md = fwd_pd.weights_desc();
  } else if (mode == kBackwardData) {
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, src, any_w, dst, strides, pad_l, pad_r);
    dnnl::convolution_backward_data::primitive_desc pd(d, eng, fwd_pd);
    plan->conv = dnnl::convolution_backward_data(pd);
    plan->act_in = memory(dst, eng, nullptr);   // diff_dst
    plan->act_out = memory(src, eng, nullptr);  // diff_src
    w_md = pd.weights_desc();
  } else {
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, src, any_w, dst, strides, pad_l, pad_r);
    dnnl::convolution_backward_weights::primitive_desc pd(d, eng, fwd_pd);
    plan->conv = dnnl::convolution_backward_weights(pd);
    plan->act_in = memory(src, eng, nullptr);   // src
    plan->act_out = memory(dst, eng, nullptr);  // diff_dst (an input too)
    w_md = pd.diff_weights_desc();
  }
  plan->user_filter = memory(user_w, eng, nullptr);
  plan->reorder = w_md != user_w;
  if (plan->reorder) {
    plan->filter = memory(w_md, eng);  // owned by oneDNN, reused across calls
    plan->filter_reorder = mode == kBackwardWeights ? dnnl::reorder(plan->filter, plan->user_filter)
                                                    : dnnl::reorder(plan->user_filter, plan->filter);
  } else {
    plan->filter = memory(w_md, eng, nullptr);
  }
  return plan;
}

// conv2d(mode, x, filter, y, shape): forward reads x and filter, writes y; backward data
// reads y (dy) and filter, writes x (dx); backward weights reads x and y (dy), writes filter (dW).
void run(Mode mode, const Shape& s, float* x, float* filter, float* y) {
  std::string key(reinterpret_cast<const char*>(&s), sizeof s);
  key.push_back(static_cast<char>(mode));
  auto& cache = plans();
  ThreadScope scope(conv_flops(s) < kThreadedFromFlops);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, make_plan(mode, s)).first;
  Plan& p = *it->second;
  auto& strm = stream();

  p.user_filter.set_data_handle(filter);
  if (!p.reorder) p.filter.set_data_handle(filter);
  if (mode == kForward) {
    p.act_in.set_data_handle(x);
    p.act_out.set_data_handle(y);
    if (p.reorder) p.filter_reorder.execute(strm, p.user_filter, p.filter);
    p.conv.execute(strm, {{DNNL_ARG_SRC, p.act_in}, {DNNL_ARG_WEIGHTS, p.filter}, {DNNL_ARG_DST, p.act_out}});
  } else if (mode == kBackwardData) {
    p.act_in.set_data_handle(y);
    p.act_out.set_data_handle(x);
    if (p.reorder) p.filter_reorder.execute(strm, p.user_filter, p.filter);
    p.conv.execute(strm, {{DNNL_ARG_DIFF_DST, p.act_in}, {DNNL_ARG_WEIGHTS, p.filter}, {DNNL_ARG_DIFF_SRC, p.act_out}});
  } else {
    p.act_in.set_data_handle(x);
    p.act_out.set_data_handle(y);
    p.conv.execute(strm, {{DNNL_ARG_SRC, p.act_in}, {DNNL_ARG_DIFF_DST, p.act_out}, {DNNL_ARG_DIFF_WEIGHTS, p.filter}});
    if (p.reorder) p.filter_reorder.execute(strm, p.filter, p.user_filter);
  }
  strm.wait();
}

/* ---------------------------------------------------------------- batched matmul */

// out[i] = op(a[i]) · op(b[i]) for i < max(ba, bb), a batch of 1 shared by every i; op is a
// transpose where asked. a holds [ba, M, K] (or [ba, K, M] transposed), b [bb, K, N] (or [bb, N, K]).
struct MatmulShape {
  int64_t ba, bb, m, k, n, ta, tb;
};

struct MatmulPlan {
  dnnl::primitive mm;
  memory a, b, out;
};

void matmul(const MatmulShape& s, float* a, float* b, float* out) {
  static std::unordered_map<std::string, std::unique_ptr<MatmulPlan>> cache;
  std::string key(reinterpret_cast<const char*>(&s), sizeof s);
  ThreadScope scope(2.0 * std::max(s.ba, s.bb) * s.m * s.n * s.k < kThreadedFromFlops);
  auto it = cache.find(key);
  if (it == cache.end()) {
    auto& eng = engine();
    const int64_t batch = std::max(s.ba, s.bb);
    memory::desc a_md({s.ba, s.m, s.k}, dt::f32, s.ta ? memory::dims{s.m * s.k, 1, s.m} : memory::dims{s.m * s.k, s.k, 1});
    memory::desc b_md({s.bb, s.k, s.n}, dt::f32, s.tb ? memory::dims{s.k * s.n, 1, s.k} : memory::dims{s.k * s.n, s.n, 1});
    memory::desc out_md({batch, s.m, s.n}, dt::f32, tag::abc);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, out_md), eng);
    auto plan = std::make_unique<MatmulPlan>();
    plan->mm = dnnl::matmul(pd);
    plan->a = memory(a_md, eng, nullptr);
    plan->b = memory(b_md, eng, nullptr);
    plan->out = memory(out_md, eng, nullptr);
    it = cache.emplace(key, std::move(plan)).first;
  }
  MatmulPlan& p = *it->second;
  p.a.set_data_handle(a);
  p.b.set_data_handle(b);
  p.out.set_data_handle(out);
  p.mm.execute(stream(), {{DNNL_ARG_SRC, p.a}, {DNNL_ARG_WEIGHTS, p.b}, {DNNL_ARG_DST, p.out}});
  stream().wait();
}

/* ---------------------------------------------------------------- N-API glue */

napi_value throw_error(napi_env env, const std::string& message) {
  napi_throw_error(env, nullptr, message.c_str());
  return nullptr;
}

// The data of a typed array argument with at least `need` elements of 4 bytes.
bool typed_array(napi_env env, napi_value v, size_t need, void** data, const char* name, std::string* err) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) { *err = std::string("Expected ") + name + " to be a typed array"; return false; }
  napi_typedarray_type type;
  size_t length;
  napi_value buffer;
  size_t offset;
  napi_get_typedarray_info(env, v, &type, &length, data, &buffer, &offset);
  if (type != napi_float32_array && type != napi_int32_array) { *err = std::string("Expected ") + name + " to hold 32-bit values"; return false; }
  if (length < need) {
    *err = std::string("Expected ") + name + " to hold at least " + std::to_string(need) + " values, but got " + std::to_string(length);
    return false;
  }
  return true;
}

// The call's arguments into argv; false (with an exception thrown naming `usage`) unless there are exactly n.
bool args_of(napi_env env, napi_callback_info info, size_t n, napi_value* argv, const char* usage) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc == n) return true;
  throw_error(env, std::string("Expected ") + usage);
  return false;
}

// Runs a oneDNN call, turning its error into a JS exception that says what failed.
template <typename F>
napi_value guarded(napi_env env, const char* what, F call) {
  try {
    call();
  } catch (const dnnl::error& e) {
    return throw_error(env, std::string("oneDNN ") + what + " failed: " + e.what());
  }
  return nullptr;
}

napi_value Conv2d(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!args_of(env, info, 5, argv, "conv2d(mode, x, filter, y, shape)")) return nullptr;
  int32_t mode;
  if (napi_get_value_int32(env, argv[0], &mode) != napi_ok || mode < 0 || mode > 2) {
    return throw_error(env, "Expected mode 0 (forward), 1 (backward data) or 2 (backward weights)");
  }
  std::string err;
  void* dims_data;
  if (!typed_array(env, argv[4], 15, &dims_data, "shape", &err)) return throw_error(env, err);
  const int32_t* d = static_cast<const int32_t*>(dims_data);
  Shape s{d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14]};
  void *x, *w, *y;
  if (!typed_array(env, argv[1], s.b * s.h * s.w * s.ci, &x, "x", &err) ||
      !typed_array(env, argv[2], s.kh * s.kw * s.ci * s.co, &w, "filter", &err) ||
      !typed_array(env, argv[3], s.b * s.oh * s.ow * s.co, &y, "y", &err)) {
    return throw_error(env, err);
  }
  return guarded(env, "convolution", [&] {
    run(static_cast<Mode>(mode), s, static_cast<float*>(x), static_cast<float*>(w), static_cast<float*>(y));
  });
}

// Whole numbers from argv[from..from+n) into out; false (with an exception thrown) if one is not.
bool int64_args(napi_env env, napi_value* argv, int from, int n, int64_t* out) {
  for (int i = 0; i < n; i++) {
    if (napi_get_value_int64(env, argv[from + i], &out[i]) != napi_ok || out[i] < 0) {
      throw_error(env, "Expected whole numbers >= 0 for the sizes");
      return false;
    }
  }
  return true;
}

// matmul(a, b, out, [batchA, batchB, M, K, N, transposeA, transposeB]).
napi_value Matmul(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!args_of(env, info, 4, argv, "matmul(a, b, out, shape)")) return nullptr;
  std::string err;
  void* dims_data;
  if (!typed_array(env, argv[3], 7, &dims_data, "shape", &err)) return throw_error(env, err);
  const int32_t* d = static_cast<const int32_t*>(dims_data);
  MatmulShape s{d[0], d[1], d[2], d[3], d[4], d[5], d[6]};
  void *a, *b, *out;
  if (!typed_array(env, argv[0], s.ba * s.m * s.k, &a, "a", &err) || !typed_array(env, argv[1], s.bb * s.k * s.n, &b, "b", &err) ||
      !typed_array(env, argv[2], std::max(s.ba, s.bb) * s.m * s.n, &out, "out", &err)) {
    return throw_error(env, err);
  }
  return guarded(env, "matmul", [&] { matmul(s, static_cast<float*>(a), static_cast<float*>(b), static_cast<float*>(out)); });
}

// binary(op, a, b, out, rows, cols, strideA, strideB): see elementwise.cc.
napi_value Binary(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t op;
  int64_t n[4];
  if (argc != 8 || napi_get_value_int32(env, argv[0], &op) != napi_ok || op < 0 || op > 3) {
    return throw_error(env, "Expected binary(op 0-3, a, b, out, rows, cols, strideA, strideB)");
  }
  if (!int64_args(env, argv, 4, 4, n)) return nullptr;
  const int64_t rows = n[0], cols = n[1], sa = n[2], sb = n[3];
  std::string err;
  void *a, *b, *out;
  if (!typed_array(env, argv[1], sa == 0 ? cols : rows * cols, &a, "a", &err) ||
      !typed_array(env, argv[2], sb == 0 ? cols : rows * cols, &b, "b", &err) ||
      !typed_array(env, argv[3], rows * cols, &out, "out", &err)) {
    return throw_error(env, err);
  }
  elementwise::binary(op, static_cast<float*>(a), static_cast<float*>(b), static_cast<float*>(out), rows, cols, sa, sb);
  return nullptr;
}

// sumRows(x, out, rows, cols, divisor): see elementwise.cc.
napi_value SumRows(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int64_t n[2];
  double divisor;
  if (argc != 5 || napi_get_value_double(env, argv[4], &divisor) != napi_ok) {
    return throw_error(env, "Expected sumRows(x, out, rows, cols, divisor)");
  }
  if (!int64_args(env, argv, 2, 2, n)) return nullptr;
  std::string err;
  void *x, *out;
  if (!typed_array(env, argv[0], n[0] * n[1], &x, "x", &err) || !typed_array(env, argv[1], n[1], &out, "out", &err)) {
    return throw_error(env, err);
  }
  elementwise::sum_rows(static_cast<float*>(x), static_cast<float*>(out), n[0], n[1], static_cast<float>(divisor));
  return nullptr;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t n = 0;
  if (argc != 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    return throw_error(env, "Expected setThreads(n) with a whole number n >= 1");
  }
  omp_set_num_threads(n);
  return nullptr;
}

napi_value Info(napi_env env, napi_callback_info) {
  const dnnl_version_t* v = dnnl_version();
  const char* isa = "unknown";
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: isa = "SSE4.1"; break;
    case dnnl::cpu_isa::avx: isa = "AVX"; break;
    case dnnl::cpu_isa::avx2: isa = "AVX2"; break;
    case dnnl::cpu_isa::avx512_core: isa = "AVX-512"; break;
    case dnnl::cpu_isa::avx512_core_vnni: isa = "AVX-512 VNNI"; break;
    case dnnl::cpu_isa::avx512_core_bf16: isa = "AVX-512 BF16"; break;
    case dnnl::cpu_isa::avx512_core_amx: isa = "AVX-512 AMX"; break;
    default: break;
  }
  std::string s = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
                  ", " + isa + ", " + std::to_string(omp_get_max_threads()) + " thread" + (omp_get_max_threads() == 1 ? "" : "s");
  napi_value out;
  napi_create_string_utf8(env, s.c_str(), s.size(), &out);
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"conv2d", nullptr, Conv2d, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"matmul", nullptr, Matmul, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"sumRows", nullptr, SumRows, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
