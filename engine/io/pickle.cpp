#include "engine/io/pickle.h"

#include <cstring>
#include <unordered_map>

#include "engine/tensor.h"

namespace mapet::io::pickle {

namespace {

// Every opcode of protocols 0-5 by its byte, so that a refused one is named.
const char* opcode_name(uint8_t op) {
  switch (op) {
    case '(': return "MARK";            case '.': return "STOP";          case '0': return "POP";
    case '1': return "POP_MARK";        case '2': return "DUP";           case 'F': return "FLOAT";
    case 'I': return "INT";             case 'J': return "BININT";        case 'K': return "BININT1";
    case 'L': return "LONG";            case 'M': return "BININT2";       case 'N': return "NONE";
    case 'P': return "PERSID";          case 'Q': return "BINPERSID";     case 'R': return "REDUCE";
    case 'S': return "STRING";          case 'T': return "BINSTRING";     case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";         case 'X': return "BINUNICODE";    case 'a': return "APPEND";
    case 'b': return "BUILD";           case 'c': return "GLOBAL";        case 'd': return "DICT";
    case '}': return "EMPTY_DICT";      case 'e': return "APPENDS";       case 'g': return "GET";
    case 'h': return "BINGET";          case 'i': return "INST";          case 'j': return "LONG_BINGET";
    case 'l': return "LIST";            case ']': return "EMPTY_LIST";    case 'o': return "OBJ";
    case 'p': return "PUT";             case 'q': return "BINPUT";        case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";         case 't': return "TUPLE";         case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS";        case 'G': return "BINFLOAT";      case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";  case 0x80: return "PROTO";        case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";           case 0x83: return "EXT2";         case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";         case 0x86: return "TUPLE2";       case 0x87: return "TUPLE3";
    case 0x88: return "NEWTRUE";        case 0x89: return "NEWFALSE";     case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";          case 0x8c: return "SHORT_BINUNICODE"; case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";      case 0x8f: return "EMPTY_SET";    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";      case 0x92: return "NEWOBJ_EX";    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";        case 0x95: return "FRAME";        case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";    case 0x98: return "READONLY_BUFFER";
  }
  return nullptr;
}

// Every value one load made. Destroyed with the last copy of the root (or of
// the machine, after an error): cuts all links first, so that no destructor
// recurses into a deep tree and memo cycles (a list holding itself) are freed.
struct Arena {
  std::vector<ValuePtr> all;
  ~Arena() {
    for (const ValuePtr& v : all) {
      v->items.clear();
      v->entries.clear();
      v->appended.clear();
      v->callable.reset();
      v->state.reset();
    }
  }
};

class Machine {
 public:
  Machine(const uint8_t* data, size_t n, const std::string& what, std::vector<GlobalRef>* globals)
      : arena_(std::make_shared<Arena>()), p_(data), n_(n), what_(what), globals_(globals) {}

  ValuePtr run() {
    while (pos_ < n_) {
      op_at_ = pos_;
      op_ = p_[pos_++];
      if (step()) return ValuePtr(arena_, result_.get());  // owns the arena, points at the result
    }
    throw fail("ends without a STOP opcode (truncated?)");
  }

 private:
  Error fail(const std::string& why) const {
    const char* name = opcode_name(op_);
    char buf[48];
    std::snprintf(buf, sizeof buf, "opcode 0x%02x", op_);
    return Error(what_ + ": pickle " + (name ? std::string(name) + " (" + buf + ")" : std::string(buf)) +
                 " at byte " + std::to_string(op_at_) + ": " + why);
  }

  // Operand readers: little-endian unless noted, bounds-checked.
  const uint8_t* take(uint64_t k) {
    if (k > n_ - pos_) throw fail("needs " + std::to_string(k) + " more bytes than the pickle has (truncated?)");
    const uint8_t* at = p_ + pos_;
    pos_ += static_cast<size_t>(k);
    return at;
  }
  uint64_t uint_le(int bytes) {
    const uint8_t* b = take(bytes);
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = v << 8 | b[i];
    return v;
  }
  std::string text(uint64_t len) {
    const uint8_t* b = take(len);
    return std::string(reinterpret_cast<const char*>(b), static_cast<size_t>(len));
  }
  std::string line() {  // GLOBAL's operands: text up to '\n'
    size_t end = pos_;
    while (end < n_ && p_[end] != '\n') ++end;
    if (end == n_) throw fail("unterminated text operand");
    std::string s(reinterpret_cast<const char*>(p_ + pos_), end - pos_);
    pos_ = end + 1;
    return s;
  }

  ValuePtr make(Value::Kind k) {
    auto v = std::make_shared<Value>();
    v->kind = k;
    arena_->all.push_back(v);
    return v;
  }
  // `parent` now holds `child`: refuse nesting deeper than kMaxDepth.
  void nest(Value& parent, const ValuePtr& child) {
    if (child->depth + 1 > parent.depth) parent.depth = child->depth + 1;
    if (parent.depth > kMaxDepth)
      throw fail("values nested more than " + std::to_string(kMaxDepth) + " deep (a damaged or crafted pickle)");
  }
  void nest_all(Value& parent, const std::vector<ValuePtr>& children) {
    for (const ValuePtr& c : children) nest(parent, c);
  }
  ValuePtr global(std::string name) {
    if (globals_) globals_->push_back({name, op_at_});
    return string_value(Value::Kind::global, std::move(name));
  }

  // The stack, and MARK positions on it.
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back())) throw fail("stack underflow");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back())) throw fail("stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_to_mark() {
    if (marks_.empty()) throw fail("no MARK on the stack");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }

  ValuePtr tuple(std::vector<ValuePtr> items) {
    ValuePtr t = make(Value::Kind::tuple);
    nest_all(*t, items);
    t->items = std::move(items);
    return t;
  }
  ValuePtr string_value(Value::Kind k, std::string s) {
    ValuePtr v = make(k);
    v->text = std::move(s);
    return v;
  }
  ValuePtr integer(int64_t i) {
    ValuePtr v = make(Value::Kind::integer);
    v->integer = i;
    return v;
  }
  // LONG1/LONG4: little-endian two's complement of any length.
  ValuePtr long_value(uint64_t len) {
    const uint8_t* b = take(len);
    if (len > 8) return string_value(Value::Kind::big_integer, std::string(reinterpret_cast<const char*>(b), len));
    uint64_t u = 0;
    for (uint64_t i = len; i-- > 0;) u = u << 8 | b[i];
    if (len > 0 && len < 8 && (b[len - 1] & 0x80)) u |= ~uint64_t{0} << (8 * len);  // sign-extend
    return integer(static_cast<int64_t>(u));
  }
  ValuePtr call(ValuePtr callable, ValuePtr args) {
    if (!args->is(Value::Kind::tuple)) throw fail("call arguments are " + args->describe() + ", not a tuple");
    if (callable->is_global("collections.OrderedDict") && args->items.empty()) return make(Value::Kind::dict);
    ValuePtr o = make(Value::Kind::object);
    nest(*o, callable);
    nest_all(*o, args->items);
    o->callable = std::move(callable);
    o->items = args->items;  // a copy: the tuple may be memoised and used again
    return o;
  }
  void set_items(const ValuePtr& target, const std::vector<ValuePtr>& kv) {
    if (kv.size() % 2) throw fail("odd number of items for a dict");
    if (!target->is(Value::Kind::dict) && !target->is(Value::Kind::object))
      throw fail("sets items on " + target->describe());
    nest_all(*target, kv);
    for (size_t i = 0; i < kv.size(); i += 2) target->entries.emplace_back(kv[i], kv[i + 1]);
  }
  void append(const ValuePtr& target, const std::vector<ValuePtr>& items) {
    if (target->is(Value::Kind::list) || target->is(Value::Kind::set) || target->is(Value::Kind::object))
      nest_all(*target, items);
    if (target->is(Value::Kind::list) || target->is(Value::Kind::set))
      target->items.insert(target->items.end(), items.begin(), items.end());
    else if (target->is(Value::Kind::object))
      target->appended.insert(target->appended.end(), items.begin(), items.end());
    else
      throw fail("appends to " + target->describe());
  }
  void memo_put(uint64_t index) { memo_[index] = top(); }
  ValuePtr memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) throw fail("memo entry " + std::to_string(index) + " was never stored");
    return it->second;
  }

  // Executes op_; true at STOP.
  bool step() {
    using K = Value::Kind;
    switch (op_) {
      case 0x80: take(1); return false;  // PROTO: the version needs nothing from us
      case 0x95: take(8); return false;  // FRAME: a length hint; frames are transparent
      case '.':
        result_ = pop();
        return true;
      case '(': marks_.push_back(stack_.size()); return false;
      case '0':
        if (!marks_.empty() && stack_.size() == marks_.back()) marks_.pop_back();
        else pop();
        return false;
      case '1': pop_to_mark(); return false;
      case '2': push(top()); return false;

      case 'N': push(make(K::none)); return false;
      case 0x88: case 0x89: {
        ValuePtr b = make(K::boolean);
        b->boolean = op_ == 0x88;
        push(b);
        return false;
      }
      case 'J': push(integer(static_cast<int32_t>(uint_le(4)))); return false;
      case 'K': push(integer(static_cast<int64_t>(uint_le(1)))); return false;
      case 'M': push(integer(static_cast<int64_t>(uint_le(2)))); return false;
      case 0x8a: push(long_value(uint_le(1))); return false;
      case 0x8b: {
        int32_t len = static_cast<int32_t>(uint_le(4));
        if (len < 0) throw fail("negative length");
        push(long_value(static_cast<uint64_t>(len)));
        return false;
      }
      case 'G': {  // big-endian IEEE double
        const uint8_t* b = take(8);
        uint64_t u = 0;
        for (int i = 0; i < 8; ++i) u = u << 8 | b[i];
        ValuePtr f = make(K::floating);
        std::memcpy(&f->floating, &u, 8);
        push(f);
        return false;
      }

      case 'X': push(string_value(K::string, text(uint_le(4)))); return false;
      case 0x8c: push(string_value(K::string, text(uint_le(1)))); return false;
      case 0x8d: push(string_value(K::string, text(uint_le(8)))); return false;
      case 'T': {  // Python 2 str: kept as text
        int32_t len = static_cast<int32_t>(uint_le(4));
        if (len < 0) throw fail("negative length");
        push(string_value(K::string, text(static_cast<uint64_t>(len))));
        return false;
      }
      case 'U': push(string_value(K::string, text(uint_le(1)))); return false;
      case 'B': push(string_value(K::bytes, text(uint_le(4)))); return false;
      case 'C': push(string_value(K::bytes, text(uint_le(1)))); return false;
      case 0x8e: case 0x96: push(string_value(K::bytes, text(uint_le(8)))); return false;

      case ')': push(tuple({})); return false;
      case 't': push(tuple(pop_to_mark())); return false;
      case 0x85: case 0x86: case 0x87: {
        std::vector<ValuePtr> items(op_ - 0x84);
        for (size_t i = items.size(); i-- > 0;) items[i] = pop();
        push(tuple(std::move(items)));
        return false;
      }
      case ']': push(make(K::list)); return false;
      case 'l': {
        ValuePtr l = make(K::list);
        l->items = pop_to_mark();
        nest_all(*l, l->items);
        push(l);
        return false;
      }
      case '}': push(make(K::dict)); return false;
      case 'd': {
        ValuePtr d = make(K::dict);
        set_items(d, pop_to_mark());
        push(d);
        return false;
      }
      case 0x8f: push(make(K::set)); return false;
      case 0x91: {
        ValuePtr s = make(K::set);
        s->items = pop_to_mark();
        nest_all(*s, s->items);
        push(s);
        return false;
      }
      case 'a': {
        ValuePtr v = pop();
        append(top(), {v});
        return false;
      }
      case 'e': case 0x90: {
        std::vector<ValuePtr> items = pop_to_mark();
        append(top(), items);
        return false;
      }
      case 's': {
        ValuePtr v = pop(), k = pop();
        set_items(top(), {k, v});
        return false;
      }
      case 'u': {
        std::vector<ValuePtr> kv = pop_to_mark();
        set_items(top(), kv);
        return false;
      }

      case 'c': {
        std::string module = line();
        push(global(module + "." + line()));
        return false;
      }
      case 0x93: {
        ValuePtr name = pop(), module = pop();
        if (!name->is(K::string) || !module->is(K::string)) throw fail("module and name must be strings");
        push(global(module->text + "." + name->text));
        return false;
      }
      case 'R': {
        ValuePtr args = pop(), callable = pop();
        push(call(std::move(callable), std::move(args)));
        return false;
      }
      case 0x81: {  // cls.__new__(cls, *args): recorded like a call
        ValuePtr args = pop(), cls = pop();
        push(call(std::move(cls), std::move(args)));
        return false;
      }
      case 0x92: {  // NEWOBJ_EX: keyword arguments are dropped (nothing we interpret takes any)
        pop();
        ValuePtr args = pop(), cls = pop();
        push(call(std::move(cls), std::move(args)));
        return false;
      }
      case 'b': {
        ValuePtr state = pop();
        nest(*top(), state);
        top()->state = std::move(state);
        return false;
      }
      case 'Q': {
        ValuePtr v = make(K::persistent);
        v->items.push_back(pop());
        nest(*v, v->items[0]);
        push(v);
        return false;
      }

      case 'q': memo_put(uint_le(1)); return false;
      case 'r': memo_put(uint_le(4)); return false;
      case 0x94: memo_put(memo_.size()); return false;
      case 'h': push(memo_get(uint_le(1))); return false;
      case 'j': push(memo_get(uint_le(4))); return false;
    }
    throw fail(opcode_name(op_) ? "not supported by this reader (torch.save writes protocol 2 without it)"
                                : "unknown opcode (not a pickle, or a corrupt one)");
  }

  // Declared first, destroyed last: the stack and memo below let go of their values before the arena cuts the links.
  std::shared_ptr<Arena> arena_;
  const uint8_t* p_;
  size_t n_, pos_ = 0, op_at_ = 0;
  uint8_t op_ = 0;
  std::string what_;
  std::vector<GlobalRef>* globals_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  ValuePtr result_;
};

}  // namespace

std::string Value::describe() const {
  switch (kind) {
    case Kind::none: return "None";
    case Kind::boolean: return boolean ? "True" : "False";
    case Kind::integer: return "int " + std::to_string(integer);
    case Kind::big_integer: return "int of " + std::to_string(text.size()) + " bytes";
    case Kind::floating: return "float " + std::to_string(floating);
    case Kind::string: return "str '" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "'";
    case Kind::bytes: return "bytes of length " + std::to_string(text.size());
    case Kind::tuple: return "tuple of " + std::to_string(items.size());
    case Kind::list: return "list of " + std::to_string(items.size());
    case Kind::set: return "set of " + std::to_string(items.size());
    case Kind::dict: return "dict of " + std::to_string(entries.size());
    case Kind::global: return "global " + text;
    case Kind::object: return "object " + (callable && callable->is(Kind::global) ? callable->text : std::string("?"));
    case Kind::persistent: return "persistent id";
  }
  return "?";
}

ValuePtr Value::get(const std::string& key) const {
  if (kind != Kind::dict) return nullptr;
  for (size_t i = entries.size(); i-- > 0;)  // the last assignment wins, as in Python
    if (entries[i].first->is(Kind::string) && entries[i].first->text == key) return entries[i].second;
  return nullptr;
}

ValuePtr load(const uint8_t* data, size_t n, const std::string& what, std::vector<GlobalRef>* globals) {
  return Machine(data, n, what, globals).run();
}

}  // namespace mapet::io::pickle
