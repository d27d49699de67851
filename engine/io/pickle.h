// A Python pickle reader (protocols 2-5, the binary opcodes) that never runs
// anything: it builds a tree of plain values. A call (REDUCE / NEWOBJ of a
// class or function named by GLOBAL) becomes an `object` value holding the
// callable's name and its arguments; BUILD attaches the state, SETITEMS and
// APPENDS the items. Whoever reads the tree decides what a call means
// (torch_checkpoint.cpp turns torch._utils._rebuild_tensor_v2 into a tensor).
// One call is evaluated here: collections.OrderedDict() becomes a dict, so the
// SETITEMS that follow fill it like a dict.
//
// Opcode meanings follow CPython's Lib/pickletools.py documentation. Text
// (protocol 0) opcodes are refused: torch.save writes protocol 2.
//
// Hostile input: nesting deeper than kMaxDepth is refused (consumers and
// destructors may recurse), and the values of one load are owned together:
// when the last copy of the root goes, every link between them is cut first,
// so memo cycles are freed and deep trees are destroyed without recursion.
// Values reached from the root are meant to be used while the root is held.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mapet::io::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;  // shared: the memo hands out the same object again

struct Value {
  enum class Kind {
    none, boolean, integer, big_integer, floating, string, bytes,
    tuple, list, set, dict,
    global,      // a class or function: text = "module.name"
    object,      // callable(items...) with optional state and dict/list items
    persistent,  // BINPERSID: items[0] is the persistent id (torch: a storage description)
  };
  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0;
  std::string text;                                     // string, bytes (raw), global name, big_integer (raw LE bytes)
  std::vector<ValuePtr> items;                          // tuple, list, set; object: call arguments; persistent: the id
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;   // dict; object: SETITEM(S) on it
  std::vector<ValuePtr> appended;                       // object: APPEND(S) on it
  ValuePtr callable;                                    // object: the global that was called
  ValuePtr state;                                       // object or dict: the BUILD argument
  int depth = 1;                                        // nesting: 1 + the deepest value inside it

  bool is(Kind k) const { return kind == k; }
  bool is_global(const char* name) const { return kind == Kind::global && text == name; }
  // A short description for messages: "str 'abc'", "tuple of 3", "object torch._utils._rebuild_tensor_v2", ...
  std::string describe() const;
  // dict lookup by string key; nullptr when absent (or when this is not a dict).
  ValuePtr get(const std::string& key) const;
};

// Unpickles data[0, n). `what` names the source in every error ("'f.pth', entry
// 'archive/data.pkl'"); an unsupported opcode is an Error naming the opcode
// and its byte offset.
// Every GLOBAL / STACK_GLOBAL ("module.name") and its byte offset go to
// `globals` when given, for the caller to judge (nothing is ever run here).
struct GlobalRef {
  std::string name;
  size_t offset = 0;
};
inline constexpr int kMaxDepth = 1000;  // Python's own default recursion limit
ValuePtr load(const uint8_t* data, size_t n, const std::string& what, std::vector<GlobalRef>* globals = nullptr);

}  // namespace mapet::io::pickle
