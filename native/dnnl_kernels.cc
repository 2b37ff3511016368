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
#include <memory>
#include <string>
#include <unordered_map>

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

napi_value Conv2d(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc != 5) return throw_error(env, "Expected conv2d(mode, x, filter, y, shape)");
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
  try {
    run(static_cast<Mode>(mode), s, static_cast<float*>(x), static_cast<float*>(w), static_cast<float*>(y));
  } catch (const dnnl::error& e) {
    return throw_error(env, std::string("oneDNN convolution failed: ") + e.what());
  }
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
    {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, 3, props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
