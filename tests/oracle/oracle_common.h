// Shared part of the ap_fixed oracle harness (tests/oracle/harness.py generates
// the rest). Raw values cross the process boundary as decimal strings of the
// stored W-bit integer (sign-extended for signed types), so any width up to
// AP_INT_MAX_W works. The bits are moved in 32-bit chunks through
// range(hi, lo), which never crosses a 64-bit word of ap_private.
#ifndef FIXEDPOINT_ORACLE_COMMON_H
#define FIXEDPOINT_ORACLE_COMMON_H

#include <ap_fixed.h>
#include <ap_int.h>

#include <cstdint>
#include <string>
#include <vector>

namespace orc {

typedef std::vector<uint32_t> Limbs;  // little endian, 32 bits each

// "-123" -> W-bit two's complement pattern in (W+31)/32 limbs (bits above W
// are cleared). Returns false on a malformed string.
inline bool dec_to_limbs(const char* s, int W, Limbs& out) {
  const int n = (W + 31) / 32;
  Limbs L(n + 1, 0u);
  bool neg = false;
  if (*s == '-') {
    neg = true;
    ++s;
  } else if (*s == '+') {
    ++s;
  }
  if (*s < '0' || *s > '9') return false;
  for (; *s >= '0' && *s <= '9'; ++s) {
    uint64_t carry = (uint64_t)(*s - '0');
    for (size_t k = 0; k < L.size(); ++k) {
      uint64_t t = (uint64_t)L[k] * 10u + carry;
      L[k] = (uint32_t)t;
      carry = t >> 32;
    }
  }
  if (*s != '\0' && *s != '\n' && *s != '\r' && *s != ' ') return false;
  if (neg) {
    uint64_t carry = 1;
    for (size_t k = 0; k < L.size(); ++k) {
      uint64_t t = (uint64_t)(uint32_t)~L[k] + carry;
      L[k] = (uint32_t)t;
      carry = t >> 32;
    }
  }
  L.resize(n);
  if (W % 32) L[n - 1] &= (uint32_t)((1ull << (W % 32)) - 1u);
  out.swap(L);
  return true;
}

// W-bit pattern -> decimal of the unsigned (S=false) or two's-complement
// (S=true) value.
inline std::string limbs_to_dec(Limbs L, int W, bool S) {
  const int n = (W + 31) / 32;
  L.resize(n, 0u);
  if (W % 32) L[n - 1] &= (uint32_t)((1ull << (W % 32)) - 1u);
  bool neg = S && ((L[(W - 1) / 32] >> ((W - 1) % 32)) & 1u);
  if (neg) {  // magnitude = 2^W - pattern
    uint64_t carry = 1;
    for (int k = 0; k < n; ++k) {
      uint64_t t = (uint64_t)(uint32_t)~L[k] + carry;
      L[k] = (uint32_t)t;
      carry = t >> 32;
    }
    if (W % 32) L[n - 1] &= (uint32_t)((1ull << (W % 32)) - 1u);
    // pattern 100..0 gives magnitude 2^(W-1), which the mask keeps intact.
  }
  std::string digits;  // reversed
  for (;;) {
    bool zero = true;
    for (int k = 0; k < n; ++k)
      if (L[k]) zero = false;
    if (zero) break;
    uint64_t rem = 0;
    for (int k = n - 1; k >= 0; --k) {
      uint64_t cur = (rem << 32) | L[k];
      L[k] = (uint32_t)(cur / 1000000000u);
      rem = cur % 1000000000u;
    }
    bool more = false;
    for (int k = 0; k < n; ++k)
      if (L[k]) more = true;
    for (int d = 0; d < 9; ++d) {
      if (!more && rem == 0) break;
      digits.push_back((char)('0' + rem % 10));
      rem /= 10;
    }
  }
  if (digits.empty()) digits = "0";
  if (neg) digits.push_back('-');
  return std::string(digits.rbegin(), digits.rend());
}

template <class T>
inline bool set_raw(T& v, const char* s) {
  const int W = T::width;
  Limbs L;
  if (!dec_to_limbs(s, W, L)) return false;
  for (int lo = 0; lo < W; lo += 32) {
    int hi = lo + 31 < W - 1 ? lo + 31 : W - 1;
    v.range(hi, lo) = (ap_ulong)L[lo / 32];
  }
  return true;
}

template <class T, bool S>
inline std::string get_raw(const T& v) {
  const int W = T::width;
  Limbs L((W + 31) / 32, 0u);
  for (int lo = 0; lo < W; lo += 32) {
    int hi = lo + 31 < W - 1 ? lo + 31 : W - 1;
    L[lo / 32] = (uint32_t)v.range(hi, lo).to_uint64();
  }
  return limbs_to_dec(L, W, S);
}

typedef std::string (*DoubleFn)(double);
typedef std::string (*RawFn)(const char*);

inline double bits_to_double(uint64_t b) {
  double d;
  static_assert(sizeof(d) == sizeof(b), "double must be 64 bits");
  __builtin_memcpy(&d, &b, sizeof d);
  return d;
}

}  // namespace orc

// Operation templates, instantiated by the generated translation units.
// F: destination ap_[u]fixed<W,I,Q,O,N>; Src: source ap_[u]fixed<W2,I2>.
#define ORC_FROM_DOUBLE(NAME, F, S) \
  std::string NAME(double x) {      \
    F v(x);                         \
    return orc::get_raw<F, S>(v);   \
  }
#define ORC_ROUNDTRIP(NAME, F, S)                \
  std::string NAME(const char* s) {              \
    F v;                                         \
    if (!orc::set_raw(v, s)) return "E bad raw"; \
    return orc::get_raw<F, S>(v);                \
  }
#define ORC_CAST(NAME, SRC, F, S)                  \
  std::string NAME(const char* s) {                \
    SRC src;                                       \
    if (!orc::set_raw(src, s)) return "E bad raw"; \
    F v(src);                                      \
    return orc::get_raw<F, S>(v);                  \
  }

// Binary operations: the request argument is "<dec a> <dec b>" (the raws of A and B).
// ORC_CMP answers six digits, the results of == != < <= > >= ; ORC_DIV answers the raw
// of a / b in the header's natural result type (S: whether that type is signed).
namespace orc {
inline const char* second_arg(const char* s) {
  const char* t = s;
  while (*t && *t != ' ') ++t;
  return *t == ' ' ? t + 1 : nullptr;
}
}  // namespace orc
#define ORC_CMP(NAME, A, B)                                               \
  std::string NAME(const char* s) {                                       \
    A a;                                                                  \
    B b;                                                                  \
    const char* t = orc::second_arg(s);                                   \
    if (!t || !orc::set_raw(a, s) || !orc::set_raw(b, t)) return "E bad raw"; \
    std::string r(6, '0');                                                \
    r[0] += (a == b);                                                     \
    r[1] += (a != b);                                                     \
    r[2] += (a < b);                                                      \
    r[3] += (a <= b);                                                     \
    r[4] += (a > b);                                                      \
    r[5] += (a >= b);                                                     \
    return r;                                                             \
  }
#define ORC_DIV(NAME, A, B, S)                                            \
  std::string NAME(const char* s) {                                       \
    A a;                                                                  \
    B b;                                                                  \
    const char* t = orc::second_arg(s);                                   \
    if (!t || !orc::set_raw(a, s) || !orc::set_raw(b, t)) return "E bad raw"; \
    if (b == 0) return "E zero divisor";                                  \
    auto q = a / b;                                                       \
    return orc::get_raw<decltype(q), S>(q);                               \
  }

#ifdef ORC_MAIN
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace orc {

// Line protocol on stdin; answers are buffered and written on "f" or EOF:
//   d <k> <16 hex digits>  double bits -> format k          (T v(x);)
//   r <k> <dec>            raw -> format k -> raw           (I/O self-check)
//   c <p> <dec>            source raw of cast pair p -> raw (T v(src);)
//   k <p> <dec> <dec>      comparison pair p: "== != < <= > >=" as six 0/1 digits
//   v <p> <dec> <dec>      division pair p: raw of a / b
//   i                      "<n_d> <n_r> <n_c> <n_k> <n_v>" table sizes
//   f                      flush the buffered answers
// Every request yields exactly one line: a decimal raw or "E <reason>".
inline int serve(const DoubleFn* fd, int nfd, const RawFn* fr, int nfr,
                 const RawFn* fc, int nfc, const RawFn* fk, int nfk,
                 const RawFn* fv, int nfv) {
  std::string out;
  std::vector<char> line(1 << 16);
  char* buf = line.data();
  while (fgets(buf, (int)line.size(), stdin)) {
    size_t len = strlen(buf);
    while (len == line.size() - 1 && buf[len - 1] != '\n') {  // long line
      line.resize(line.size() * 2);
      buf = line.data();
      if (!fgets(buf + len, (int)(line.size() - len), stdin)) break;
      len += strlen(buf + len);
    }
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = 0;
    if (len == 0) continue;
    char op = buf[0];
    if (op == 'f') {
      fwrite(out.data(), 1, out.size(), stdout);
      fflush(stdout);
      out.clear();
      continue;
    }
    if (op == 'i') {
      out += std::to_string(nfd) + " " + std::to_string(nfr) + " " +
             std::to_string(nfc) + " " + std::to_string(nfk) + " " +
             std::to_string(nfv) + "\n";
      continue;
    }
    char* p = buf + 1;
    char* end = nullptr;
    long k = strtol(p, &end, 10);
    if (end == p || *end != ' ') {
      out += "E malformed request\n";
      continue;
    }
    const char* arg = end + 1;
    if (op == 'd') {
      if (k < 0 || k >= nfd) {
        out += "E bad index\n";
        continue;
      }
      char* e2 = nullptr;
      unsigned long long bits = strtoull(arg, &e2, 16);
      if (e2 == arg || *e2 != 0) {
        out += "E bad double bits\n";
        continue;
      }
      out += fd[k](bits_to_double((uint64_t)bits));
    } else if (op == 'r' || op == 'c' || op == 'k' || op == 'v') {
      const RawFn* t = op == 'r' ? fr : op == 'c' ? fc : op == 'k' ? fk : fv;
      int nt = op == 'r' ? nfr : op == 'c' ? nfc : op == 'k' ? nfk : nfv;
      if (k < 0 || k >= nt) {
        out += "E bad index\n";
        continue;
      }
      out += t[k](arg);
    } else {
      out += "E unknown op\n";
      continue;
    }
    out += "\n";
  }
  fwrite(out.data(), 1, out.size(), stdout);
  fflush(stdout);
  return 0;
}

}  // namespace orc
#endif  // ORC_MAIN

#endif  // FIXEDPOINT_ORACLE_COMMON_H
