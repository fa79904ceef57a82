// The checkpoint file format (docs/checkpoint.md has the full layout):
//
//   header   magic "MINDIFF\0" (8 bytes) | u32 version | u32 section count | u64 file length
//   sections u32 tag | u64 payload length | payload          (tags: CONF MODL EMA_ OPTM ...)
//   trailer  u32 CRC-32 of every byte before it
//
// All integers little-endian; tensor data is float32 little-endian in row-major order.
//
// Writing runs every section twice: once through a counting Writer (to learn the lengths that
// precede the payloads) and once for real, so lengths and payloads cannot disagree.
// Reading makes two passes over the file: the first checks header, length and CRC (so a
// damaged file is reported as such, before anything is parsed); the second parses, with every
// count and length bounded by the bytes that remain in its section before anything is allocated.
#include "nn/checkpoint.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <set>

#include "autograd/node.h"
#include "data/crc32.h"
#include "data/file_io.h"
#include "tensor/error.h"

namespace mindiff::nn {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "checkpoint I/O copies float32 data as-is: it needs a little-endian host");

namespace {

constexpr char kMagic[8] = {'M', 'I', 'N', 'D', 'I', 'F', 'F', '\0'};
constexpr uint64_t kHeaderBytes = 8 + 4 + 4 + 8;
constexpr uint64_t kSectionHeadBytes = 4 + 8;
constexpr uint64_t kCrcBytes = 4;

// A section tag: 4 ASCII characters read as a little-endian u32 ("MODL" is the bytes M O D L).
constexpr uint32_t make_tag(const char (&s)[5]) {
  return uint32_t(uint8_t(s[0])) | uint32_t(uint8_t(s[1])) << 8 | uint32_t(uint8_t(s[2])) << 16 |
         uint32_t(uint8_t(s[3])) << 24;
}
std::string tag_name(uint32_t tag) {
  std::string s(4, ' ');
  for (int i = 0; i < 4; ++i) {
    char c = static_cast<char>((tag >> (8 * i)) & 0xFFu);
    s[i] = (c >= 32 && c < 127) ? c : '?';
  }
  return s;
}

constexpr uint32_t kConf = make_tag("CONF"), kModel = make_tag("MODL"), kEma = make_tag("EMA_"),
                   kOptim = make_tag("OPTM"), kStep = make_tag("STEP"), kRng = make_tag("RNG_"),
                   kData = make_tag("DATA"), kExtras = make_tag("XTRA");

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

// Appends bytes to a file while keeping the CRC and the byte count; with no file it only counts.
class Writer {
 public:
  explicit Writer(std::FILE* f = nullptr) : f_(f) {}
  void bytes(const void* p, size_t n) {
    count += n;
    if (!f_) return;
    crc = crc32_update(crc, p, n);
    if (n && std::fwrite(p, 1, n, f_) != n)
      throw Error(std::string("write failed: ") + std::strerror(errno));
  }
  void u32(uint32_t v) { bytes(&v, 4); }
  void u64(uint64_t v) { bytes(&v, 8); }
  void f64(double v) { bytes(&v, 8); }
  void str(const std::string& s) {
    MD_CHECK(s.size() <= 0xFFFFFFFFu, "string of ", s.size(), " bytes is too long");
    u32(static_cast<uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  // The elements of `t` in row-major order, from any device and any strides.
  void tensor_data(const Tensor& t) {
    const size_t n = static_cast<size_t>(t.numel()) * sizeof(float);
    if (!f_) {
      count += n;
      return;
    }
    if (t.device() != Device::CPU) {
      std::vector<float> host = t.to_vector();
      bytes(host.data(), n);
      return;
    }
    NoGradGuard no_grad;
    Tensor c = t.contiguous();
    bytes(c.data(), n);
  }
  uint64_t count = 0;
  uint32_t crc = kCrc32Init;

 private:
  std::FILE* f_;
};

void check_unique(const std::vector<std::string>& names, const char* what) {
  std::set<std::string> seen;
  for (const std::string& n : names)
    MD_CHECK(seen.insert(n).second, "duplicate ", what, " '", n, "'");
}
void check_tensors(const std::vector<NamedTensor>& list, const char* what) {
  std::vector<std::string> names;
  for (const NamedTensor& nt : list) {
    MD_CHECK(nt.tensor.defined(), what, " tensor '", nt.name, "' is undefined");
    names.push_back(nt.name);
  }
  check_unique(names, what);
}
void check_state(const StateDict& s, const char* what) {
  check_tensors(s.tensors, what);
  std::vector<std::string> names;
  for (const NamedScalar& ns : s.scalars) names.push_back(ns.name);
  check_unique(names, what);
}

void put_tensors(Writer& w, const std::vector<NamedTensor>& list) {
  w.u32(static_cast<uint32_t>(list.size()));
  for (const NamedTensor& nt : list) {
    w.str(nt.name);
    w.u32(static_cast<uint32_t>(nt.tensor.ndim()));
    for (int64_t e : nt.tensor.shape()) w.u64(static_cast<uint64_t>(e));
    w.tensor_data(nt.tensor);
  }
}
void put_state(Writer& w, const StateDict& s) {
  w.str(s.kind);
  put_tensors(w, s.tensors);
  w.u32(static_cast<uint32_t>(s.scalars.size()));
  for (const NamedScalar& ns : s.scalars) {
    w.str(ns.name);
    w.f64(ns.value);
  }
}

// Writes the whole file to an open stream.
void write_all(std::FILE* f, const Checkpoint& c) {
  using Payload = std::function<void(Writer&)>;
  const std::vector<std::pair<uint32_t, Payload>> sections = {
      {kConf, [&](Writer& w) { w.bytes(c.model_config.data(), c.model_config.size()); }},
      {kModel, [&](Writer& w) { put_tensors(w, c.model); }},
      {kEma, [&](Writer& w) { put_state(w, c.ema); }},
      {kOptim, [&](Writer& w) { put_state(w, c.optimizer); }},
      {kStep, [&](Writer& w) { w.u64(c.step); }},
      {kRng, [&](Writer& w) { w.u64(c.generator.seed), w.u64(c.generator.offset); }},
      {kData,
       [&](Writer& w) { w.u64(c.data.epoch), w.u64(c.data.position), w.u64(c.data.shuffle_seed); }},
      {kExtras,
       [&](Writer& w) {
         w.u32(static_cast<uint32_t>(c.extras.size()));
         for (const auto& [k, v] : c.extras) w.str(k), w.str(v);
       }},
  };
  std::vector<uint64_t> lengths;
  uint64_t file_length = kHeaderBytes + kCrcBytes;
  for (const auto& s : sections) {
    Writer counter;
    s.second(counter);
    lengths.push_back(counter.count);
    file_length += kSectionHeadBytes + counter.count;
  }
  Writer w(f);
  w.bytes(kMagic, sizeof kMagic);
  w.u32(kCheckpointVersion);
  w.u32(static_cast<uint32_t>(sections.size()));
  w.u64(file_length);
  for (size_t i = 0; i < sections.size(); ++i) {
    w.u32(sections[i].first);
    w.u64(lengths[i]);
    const uint64_t start = w.count;
    sections[i].second(w);
    MD_CHECK(w.count - start == lengths[i], "internal error: section ", tag_name(sections[i].first),
             " changed length between passes");
  }
  uint32_t crc = crc32_final(w.crc);
  w.u32(crc);
}

}  // namespace

void save_checkpoint(const Checkpoint& ckpt, const std::string& path) {
  const std::string where = "save_checkpoint: cannot write '" + path + "': ";
  try {
    check_tensors(ckpt.model, "model");
    check_state(ckpt.ema, "EMA");
    check_state(ckpt.optimizer, "optimizer");
  } catch (const Error& e) {
    throw Error(where + e.what());
  }
  try {
    write_file_atomic(path, [&](std::FILE* f) { write_all(f, ckpt); });
  } catch (const Error& e) {
    throw Error(std::string("save_checkpoint: ") + e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& problem) {
  throw Error("load_checkpoint: '" + path + "': " + problem);
}

struct FileCloser {
  std::FILE* f;
  ~FileCloser() {
    if (f) std::fclose(f);
  }
};

uint32_t le32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t le64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Reads one section, never past its end: every count and length is checked against the bytes
// left in the section before anything is allocated.
class Reader {
 public:
  Reader(std::FILE* f, const std::string& path, std::string section, uint64_t limit)
      : f_(f), path_(path), section_(std::move(section)), left_(limit) {}
  uint64_t left() const { return left_; }
  [[noreturn]] void fail(const std::string& problem) const {
    bad(path_, "corrupt section " + section_ + ": " + problem);
  }
  void bytes(void* p, uint64_t n) {
    if (n > left_)
      fail("needs " + std::to_string(n) + " more bytes, only " + std::to_string(left_) + " remain");
    if (n && std::fread(p, 1, n, f_) != n)
      bad(path_, std::string("read failed: ") +
                     (std::ferror(f_) ? std::strerror(errno) : "unexpected end of file"));
    left_ -= n;
  }
  uint32_t u32() {
    uint32_t v;
    bytes(&v, 4);
    return v;
  }
  uint64_t u64() {
    uint64_t v;
    bytes(&v, 8);
    return v;
  }
  double f64() {
    double v;
    bytes(&v, 8);
    return v;
  }
  std::string str() {
    uint32_t n = u32();
    if (n > left_)
      fail("string of " + std::to_string(n) + " bytes, only " + std::to_string(left_) + " remain");
    std::string s(n, '\0');
    bytes(s.data(), n);
    return s;
  }
  // A u32 entry count; each entry takes at least `min_entry_bytes`, which bounds the count.
  uint64_t count(uint64_t min_entry_bytes, const char* what) {
    uint64_t n = u32();
    if (n > left_ / min_entry_bytes)
      fail(std::to_string(n) + " " + what + " entries cannot fit in " + std::to_string(left_) +
           " bytes");
    return n;
  }

 private:
  std::FILE* f_;
  const std::string& path_;
  std::string section_;
  uint64_t left_;
};

std::vector<NamedTensor> get_tensors(Reader& r) {
  const uint64_t n = r.count(4 + 4, "tensor");  // each has at least a name length and a rank
  std::vector<NamedTensor> out;  // not reserve(n): n is bounded, but by 8 bytes per entry
  std::set<std::string> seen;
  for (uint64_t i = 0; i < n; ++i) {
    std::string name = r.str();
    if (!seen.insert(name).second) r.fail("duplicate tensor name '" + name + "'");
    const uint32_t rank = r.u32();
    if (rank > static_cast<uint32_t>(kMaxDims))
      r.fail("tensor '" + name + "' has rank " + std::to_string(rank) + " (at most 4)");
    std::vector<uint64_t> raw(rank);
    bool has_zero = false;
    for (uint32_t d = 0; d < rank; ++d) raw[d] = r.u64(), has_zero |= raw[d] == 0;
    // Without a zero extent the elements must fit in the section; with one the tensor is empty,
    // and the other extents are only bounded so that Shape::numel cannot overflow.
    const uint64_t max_product = has_zero ? (uint64_t(1) << 40) : r.left() / sizeof(float);
    uint64_t product = 1;  // of the nonzero extents
    for (uint64_t e : raw) {
      if (e != 0 && product > max_product / e)
        r.fail("tensor '" + name + "' has an implausible shape (more elements than the " +
               std::to_string(r.left()) + " bytes left)");
      product *= e != 0 ? e : 1;
    }
    Tensor t = empty(Shape(std::vector<int64_t>(raw.begin(), raw.end())));
    r.bytes(t.data(), static_cast<uint64_t>(t.numel()) * sizeof(float));
    out.push_back({std::move(name), t});
  }
  return out;
}

StateDict get_state(Reader& r) {
  StateDict s;
  s.kind = r.str();
  s.tensors = get_tensors(r);
  const uint64_t n = r.count(4 + 8, "scalar");  // name length + value
  std::set<std::string> seen;
  for (uint64_t i = 0; i < n; ++i) {
    std::string name = r.str();
    if (!seen.insert(name).second) r.fail("duplicate scalar name '" + name + "'");
    s.scalars.push_back({std::move(name), r.f64()});
  }
  return s;
}

// Pass 1: header, length and CRC. Returns the section count.
uint32_t check_file(std::FILE* f, const std::string& path, uint64_t size) {
  unsigned char head[kHeaderBytes];
  const size_t got =
      std::fread(head, 1, static_cast<size_t>(std::min<uint64_t>(size, kHeaderBytes)), f);
  if (std::memcmp(head, kMagic, std::min<size_t>(got, sizeof kMagic)) != 0)
    bad(path, "not a mindiff checkpoint (wrong magic bytes)");
  if (got < kHeaderBytes)
    bad(path, "truncated: " + std::to_string(size) + " bytes, less than the " +
                  std::to_string(kHeaderBytes) + "-byte header");
  const uint32_t version = le32(head + 8);
  if (version > kCheckpointVersion)
    bad(path, "format version " + std::to_string(version) + " is newer than this build supports (" +
                  std::to_string(kCheckpointVersion) + ")");
  if (version == 0) bad(path, "unsupported format version 0 (corrupt)");
  const uint64_t length = le64(head + 16);
  if (size < length)
    bad(path, "truncated: " + std::to_string(size) + " bytes, the header announces " +
                  std::to_string(length));
  if (size > length)
    bad(path, "corrupt: " + std::to_string(size) + " bytes, the header announces only " +
                  std::to_string(length));
  if (length < kHeaderBytes + kCrcBytes)
    bad(path, "corrupt: announced length " + std::to_string(length) + " is too short");
  // CRC of everything before the trailer, read in 1 MiB pieces.
  std::vector<unsigned char> buf(std::min<uint64_t>(length, 1 << 20));
  uint32_t crc = crc32_update(kCrc32Init, head, kHeaderBytes);
  for (uint64_t left = length - kHeaderBytes - kCrcBytes; left > 0;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    if (std::fread(buf.data(), 1, n, f) != n)
      bad(path, std::string("read failed: ") + std::strerror(errno));
    crc = crc32_update(crc, buf.data(), n);
    left -= n;
  }
  unsigned char tail[4];
  if (std::fread(tail, 1, 4, f) != 4)
    bad(path, std::string("read failed: ") + std::strerror(errno));
  const uint32_t stored = le32(tail), computed = crc32_final(crc);
  if (stored != computed) {
    char msg[96];
    std::snprintf(msg, sizeof msg, "corrupt: checksum mismatch (stored %08x, computed %08x)",
                  stored, computed);
    bad(path, msg);
  }
  return le32(head + 12);
}

// Both passes over an open stream of `size` bytes (a file, or bytes in memory).
Checkpoint read_checkpoint(std::FILE* f, uint64_t size, const std::string& path) {
  const uint32_t n_sections = check_file(f, path, size);

  // Pass 2: the sections, each once, in any order; unknown tags are skipped (docs/checkpoint.md).
  if (std::fseek(f, static_cast<long>(kHeaderBytes), SEEK_SET) != 0)
    bad(path, std::string("seek failed: ") + std::strerror(errno));
  Checkpoint c;
  std::set<uint32_t> seen;
  uint64_t left = size - kHeaderBytes - kCrcBytes;  // bytes before the trailer
  if (n_sections > left / kSectionHeadBytes)
    bad(path, "corrupt: " + std::to_string(n_sections) + " sections cannot fit in the file");
  for (uint32_t i = 0; i < n_sections; ++i) {
    Reader head(f, path, "header " + std::to_string(i), left);
    const uint32_t tag = head.u32();
    const uint64_t len = head.u64();
    const std::string name = tag_name(tag);
    if (len > head.left())
      bad(path, "corrupt: section " + name + " announces " + std::to_string(len) + " bytes, " +
                    std::to_string(head.left()) + " remain");
    if (!seen.insert(tag).second) bad(path, "corrupt: section " + name + " appears twice");
    left = head.left() - len;
    Reader r(f, path, name, len);
    if (tag == kConf) {
      c.model_config.assign(len, '\0');
      r.bytes(c.model_config.data(), len);
    } else if (tag == kModel) {
      c.model = get_tensors(r);
    } else if (tag == kEma) {
      c.ema = get_state(r);
    } else if (tag == kOptim) {
      c.optimizer = get_state(r);
    } else if (tag == kStep) {
      c.step = r.u64();
    } else if (tag == kRng) {
      c.generator.seed = r.u64();
      c.generator.offset = r.u64();
    } else if (tag == kData) {
      c.data.epoch = r.u64();
      c.data.position = r.u64();
      c.data.shuffle_seed = r.u64();
    } else if (tag == kExtras) {
      const uint64_t n = r.count(4 + 4, "extras");
      for (uint64_t k = 0; k < n; ++k) {
        std::string key = r.str();
        std::string value = r.str();
        if (!c.extras.emplace(key, std::move(value)).second)
          r.fail("duplicate extras key '" + key + "'");
      }
    } else {
      if (std::fseek(f, static_cast<long>(len), SEEK_CUR) != 0)
        bad(path, std::string("seek failed: ") + std::strerror(errno));
      continue;
    }
    if (r.left() != 0) r.fail(std::to_string(r.left()) + " bytes left unread at its end");
  }
  if (left != 0) bad(path, "corrupt: " + std::to_string(left) + " bytes after the last section");
  for (uint32_t tag : {kConf, kModel, kEma, kOptim, kStep, kRng, kData, kExtras})
    if (!seen.count(tag)) bad(path, "corrupt: section " + tag_name(tag) + " is missing");
  return c;
}

}  // namespace

Checkpoint load_checkpoint(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) bad(path, std::string("cannot open: ") + std::strerror(errno));
  FileCloser closer{f};
  struct stat st;
  if (::fstat(::fileno(f), &st) != 0)
    bad(path, std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) bad(path, "not a regular file");
  return read_checkpoint(f, static_cast<uint64_t>(st.st_size), path);
}

Checkpoint load_checkpoint_bytes(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.empty()) bad(name, "truncated: 0 bytes");
  // A read-only stream over the bytes, so that both passes are the file reader's own.
  std::FILE* f = ::fmemopen(const_cast<uint8_t*>(bytes.data()), bytes.size(), "rb");
  if (!f) bad(name, std::string("cannot read from memory: ") + std::strerror(errno));
  FileCloser closer{f};
  return read_checkpoint(f, bytes.size(), name);
}

// ---------------------------------------------------------------------------------------------
// StateDict lookups and load_into
// ---------------------------------------------------------------------------------------------

const Tensor& StateDict::tensor(const std::string& name) const {
  for (const NamedTensor& nt : tensors)
    if (nt.name == name) return nt.tensor;
  throw Error("state '" + kind + "': no tensor named '" + name + "'");
}

double StateDict::scalar(const std::string& name) const {
  for (const NamedScalar& ns : scalars)
    if (ns.name == name) return ns.value;
  throw Error("state '" + kind + "': no scalar named '" + name + "'");
}

void load_into(const std::vector<std::pair<std::string, Tensor>>& named_params,
               const std::vector<NamedTensor>& saved, const std::string& path) {
  const std::string where = "load_into: '" + path + "': ";
  std::map<std::string, const Tensor*> by_name;
  for (const NamedTensor& nt : saved)
    MD_CHECK(by_name.emplace(nt.name, &nt.tensor).second, where, "tensor '", nt.name,
             "' saved twice");
  std::set<std::string> wanted;
  // Check everything first, so that a failed load leaves the model as it was.
  for (const auto& [name, p] : named_params) {
    wanted.insert(name);
    auto it = by_name.find(name);
    MD_CHECK(it != by_name.end(), where, "the model's tensor '", name, "' ", p.shape().str(),
             " is missing from the checkpoint");
    MD_CHECK(it->second->shape() == p.shape(), where, "tensor '", name, "' has shape ",
             it->second->shape().str(), " in the checkpoint but ", p.shape().str(),
             " in the model");
  }
  for (const NamedTensor& nt : saved)
    MD_CHECK(wanted.count(nt.name), where, "the checkpoint's tensor '", nt.name, "' ",
             nt.tensor.shape().str(), " has no counterpart in the model");
  NoGradGuard no_grad;
  for (const auto& [name, p] : named_params) p.copy_(*by_name[name]);
}

}  // namespace mindiff::nn
