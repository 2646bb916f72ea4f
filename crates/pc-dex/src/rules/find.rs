//! The fast matcher: which methods of a [`Dex`] call the rules' APIs, directly or by name
//! through reflection.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::{MemberKind, RuleSet};
use crate::{CodeRef, CodeVisitor, Dex, DexError, OPCODE_NAMES, OpKind};

/// Reflective calls that turn a method name held in a string into a call: a method that loads
/// a rule's member name with `const-string` and calls one of these is an indirect call site of
/// that rule (obfuscated pre-installed code reads `getDeviceId` this way to hide it from
/// scanners that look at method references only).
pub const REFLECTION_APIS: [(&str, &str); 3] = [
    ("Ljava/lang/reflect/Method;", "invoke"),
    ("Ljava/lang/Class;", "getMethod"),
    ("Ljava/lang/Class;", "getDeclaredMethod"),
];

/// Calls of one rule's API from one method, with one opcode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ApiCall {
    /// The matching rule.
    pub rule_id: String,
    /// Identifier kinds the API reads.
    pub identifiers: Vec<String>,
    /// Permissions the API needs.
    pub permissions: Vec<String>,
    /// `Lclass;->member`, e.g. `Landroid/telephony/TelephonyManager;->getDeviceId`.
    pub api: String,
    /// The referenced prototype (`(I)Ljava/lang/String;`), or field type for field reads. For
    /// an indirect call, the rule's prototype (empty when the rule names none).
    pub callee_proto: String,
    /// `Lcom/foo/Bar;->method(proto)`.
    pub caller: String,
    pub caller_class: String,
    pub caller_method: String,
    pub caller_proto: String,
    /// "invoke-virtual", "invoke-static/range", "sget-object", ...; for an indirect call the
    /// instruction that loads the name ("const-string" or "const-string/jumbo").
    pub opcode: &'static str,
    /// Number of such instructions in the caller.
    pub count: u32,
    /// Name of the dex file (as given to [`find_calls`]), e.g. `classes2.dex`.
    pub dex: String,
    /// A call by name through reflection (see [`REFLECTION_APIS`]), not a method reference.
    pub indirect: bool,
}

/// Bit set over a u16-sized id space.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: u32) -> Self {
        Bits(vec![0; (n as usize).div_ceil(64)])
    }
    #[inline]
    fn set(&mut self, i: u32) {
        if let Some(w) = self.0.get_mut((i / 64) as usize) {
            *w |= 1 << (i % 64);
        }
    }
    #[inline]
    fn get(&self, i: u32) -> bool {
        self.0
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// What a counted reference is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ref {
    Method,
    Field,
    /// A `const-string` of a rule's member name in a method that uses reflection; the index is
    /// the string's.
    Indirect,
}

/// The strings the walk watches for, each with a slot: `const_string` conditions, and (when the
/// dex uses reflection) the method rules' member names and their classes in Java form.
#[derive(Default)]
struct Wanted {
    strings: Vec<String>,
    slot_of: HashMap<String, usize>,
    /// Per rule: slot of its condition string, of its Java class name.
    cond: HashMap<usize, usize>,
    class: HashMap<usize, usize>,
    /// Name slot -> rules with that member name.
    rules_named: HashMap<usize, Vec<usize>>,
}

impl Wanted {
    fn slot(&mut self, s: &str) -> usize {
        if let Some(&i) = self.slot_of.get(s) {
            return i;
        }
        let i = self.strings.len();
        self.strings.push(s.to_string());
        self.slot_of.insert(s.to_string(), i);
        i
    }
}

/// `Landroid/telephony/TelephonyManager;` -> `android.telephony.TelephonyManager` (what
/// `Class.forName` takes; nested classes keep their `$`).
fn java_name(descriptor: &str) -> String {
    descriptor
        .trim_start_matches('L')
        .trim_end_matches(';')
        .replace('/', ".")
}

/// Finds calls of the rules' APIs in `dex`. `dex_name` labels the results.
///
/// Fast path: resolve which method_ids / field_ids match any rule (one pass over the type,
/// method and field id tables, comparing raw bytes); if none match and the dex has no
/// reflective call, the bytecode is not read. Otherwise every method's code is walked once,
/// counting per (caller, callee, opcode). A call whose rule has `const_string` counts only when
/// the caller also loads that string.
///
/// Indirect calls: a method that calls one of [`REFLECTION_APIS`] and loads a method rule's
/// member name with `const-string` is reported once per such load, as an [`ApiCall`] with
/// `indirect` set, for each rule with that member name (and `const_string` condition met);
/// when the method also names some of those rules' classes (`const-class` of the class, or
/// `const-string` of its Java name `android.telephony.TelephonyManager`), only those rules.
///
/// Results are sorted (caller, api, proto, opcode, rule).
pub fn find_calls(dex: &Dex, dex_name: &str, rules: &RuleSet) -> Result<Vec<ApiCall>, DexError> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let has_method_rules = rules.rules.iter().any(|r| r.kind == MemberKind::Method);
    // 1. Types naming a rule class, and the reflection classes.
    let ntypes = dex.type_ids_count();
    let mut class_rules_of_type: HashMap<u32, &[usize]> = HashMap::new();
    let mut type_bits = Bits::new(ntypes);
    let mut reflect_types: HashMap<u32, &str> = HashMap::new();
    for t in 0..ntypes {
        // Rule class descriptors are at most 255 bytes: longer ones cannot match.
        let Some(desc) = dex.type_bytes_max(t, 255)? else {
            continue;
        };
        if let Some(rs) = rules.class_rules(desc) {
            class_rules_of_type.insert(t, rs);
            type_bits.set(t);
        }
        if has_method_rules
            && let Some((c, _)) = REFLECTION_APIS.iter().find(|(c, _)| c.as_bytes() == desc)
        {
            reflect_types.insert(t, c);
        }
    }
    if class_rules_of_type.is_empty() && reflect_types.is_empty() {
        return Ok(Vec::new());
    }

    // 2. Method and field ids on those classes whose name (and proto) match.
    let mut method_rules: HashMap<u32, Vec<usize>> = HashMap::new();
    let mut field_rules: HashMap<u32, Vec<usize>> = HashMap::new();
    let mut reflect_bits = Bits::new(dex.method_ids_count());
    let mut reflective = false;
    let max_member = rules
        .rules
        .iter()
        .map(|r| r.member.len())
        .chain(REFLECTION_APIS.iter().map(|(_, m)| m.len()))
        .max()
        .unwrap_or(0);
    // Many method ids share a proto: compare each (proto, rule) once.
    let mut proto_ok: HashMap<(u32, usize), bool> = HashMap::new();
    for (count, kind) in [
        (dex.method_ids_count(), MemberKind::Method),
        (dex.field_ids_count(), MemberKind::Field),
    ] {
        for i in 0..count {
            let (class_idx, proto_or_type, name_idx) = match kind {
                MemberKind::Method => dex.method_id(i)?,
                MemberKind::Field => dex.field_id(i)?,
            };
            let reflect_class = match kind {
                MemberKind::Method => reflect_types.get(&class_idx).copied(),
                MemberKind::Field => None,
            };
            if !type_bits.get(class_idx) && reflect_class.is_none() {
                continue;
            }
            let Some((name, _)) = dex.string_bytes_max(name_idx, max_member)? else {
                continue;
            };
            if let Some(rc) = reflect_class
                && REFLECTION_APIS
                    .iter()
                    .any(|(c, m)| *c == rc && m.as_bytes() == name)
            {
                reflect_bits.set(i);
                reflective = true;
            }
            let Some(candidates) = class_rules_of_type.get(&class_idx) else {
                continue;
            };
            for &ri in candidates.iter() {
                let Some(rule) = rules.rules.get(ri) else {
                    continue;
                };
                if rule.kind != kind || rule.member.as_bytes() != name {
                    continue;
                }
                if let Some(p) = &rule.proto {
                    let ok = match kind {
                        MemberKind::Method => match proto_ok.get(&(proto_or_type, ri)) {
                            Some(&ok) => ok,
                            None => {
                                let ok = dex.proto_matches(proto_or_type, p)?;
                                proto_ok.insert((proto_or_type, ri), ok);
                                ok
                            }
                        },
                        MemberKind::Field => {
                            dex.type_bytes_max(proto_or_type, p.len())? == Some(p.as_bytes())
                        }
                    };
                    if !ok {
                        continue;
                    }
                }
                let map = match kind {
                    MemberKind::Method => &mut method_rules,
                    MemberKind::Field => &mut field_rules,
                };
                map.entry(i).or_default().push(ri);
            }
        }
    }

    // 3. Strings the walk watches: const_string conditions of the matched rules; with
    //    reflection, every method rule's member name, Java class name and condition.
    let mut wanted = Wanted::default();
    let matched: BTreeSet<usize> = method_rules.values().flatten().copied().collect();
    for (ri, r) in rules.rules.iter().enumerate() {
        let by_name = reflective && r.kind == MemberKind::Method;
        if !(by_name || matched.contains(&ri)) {
            continue;
        }
        if let Some(c) = &r.const_string {
            let s = wanted.slot(c);
            wanted.cond.insert(ri, s);
        }
        if by_name {
            let s = wanted.slot(&r.member);
            wanted.rules_named.entry(s).or_default().push(ri);
            let s = wanted.slot(&java_name(&r.class));
            wanted.class.insert(ri, s);
        }
    }
    let mut string_slot: HashMap<u32, usize> = HashMap::new();
    if !wanted.strings.is_empty() {
        let max_wanted = wanted.strings.iter().map(String::len).max().unwrap_or(0);
        for s in 0..dex.string_ids_count() {
            let Some((bytes, _)) = dex.string_bytes_max(s, max_wanted)? else {
                continue;
            };
            // Matching compares raw MUTF-8 bytes; wanted strings are ASCII.
            if let Some(&slot) = std::str::from_utf8(bytes)
                .ok()
                .and_then(|b| wanted.slot_of.get(b))
            {
                string_slot.insert(s, slot);
            }
        }
        // A condition whose string the dex does not contain can never hold: drop those rules
        // before walking.
        let present: BTreeSet<usize> = string_slot.values().copied().collect();
        let cond_ok = |ri: &usize| wanted.cond.get(ri).is_none_or(|s| present.contains(s));
        for rs in method_rules.values_mut() {
            rs.retain(cond_ok);
        }
        method_rules.retain(|_, rs| !rs.is_empty());
        for rs in wanted.rules_named.values_mut() {
            rs.retain(cond_ok);
        }
        wanted
            .rules_named
            .retain(|s, rs| !rs.is_empty() && present.contains(s));
    }
    let reflective = reflective && !wanted.rules_named.is_empty();
    if method_rules.is_empty() && field_rules.is_empty() && !reflective {
        return Ok(Vec::new());
    }

    // 4. Walk the bytecode.
    let mut v = Matcher {
        method_bits: bits_of(&method_rules, dex.method_ids_count()),
        field_bits: bits_of(&field_rules, dex.field_ids_count()),
        reflect_bits: if reflective {
            reflect_bits
        } else {
            Bits::new(0)
        },
        method_rules: &method_rules,
        field_rules: &field_rules,
        class_rules_of_type: &class_rules_of_type,
        type_bits: &type_bits,
        classes: Vec::new(),
        string_slot: &string_slot,
        wanted: &wanted,
        seen: vec![false; wanted.strings.len()],
        touched: Vec::new(),
        reflects: false,
        hits: Vec::new(),
        counts: BTreeMap::new(),
    };
    dex.walk_code(&mut v)?;

    // 5. Resolve names.
    let mut out = Vec::with_capacity(v.counts.len());
    // Output strings are charged to a budget: callers may share huge (capped) descriptors.
    let mut budget =
        crate::read::Budget::new(dex.header().file_size as usize, dex.limits().work_factor);
    let mut caller_cache: HashMap<u32, (String, String, String)> = HashMap::new();
    for ((caller_idx, what, callee_idx, opcode, ri), count) in v.counts {
        let Some(rule) = rules.rules.get(ri) else {
            continue;
        };
        let (cc, cm, cp) = match caller_cache.get(&caller_idx) {
            Some(c) => c.clone(),
            None => {
                let m = dex.method_ref(caller_idx)?;
                let c = (m.class.into_owned(), m.name.into_owned(), m.proto);
                caller_cache.insert(caller_idx, c.clone());
                c
            }
        };
        let (api, callee_proto) = match what {
            Ref::Field => {
                let f = dex.field_ref(callee_idx)?;
                (
                    format!("{}->{}", f.class, f.name),
                    f.type_descriptor.into_owned(),
                )
            }
            Ref::Method => {
                let m = dex.method_ref(callee_idx)?;
                (format!("{}->{}", m.class, m.name), m.proto)
            }
            Ref::Indirect => (
                format!("{}->{}", rule.class, rule.member),
                rule.proto.clone().unwrap_or_default(),
            ),
        };
        let size = 2 * (cc.len() + cm.len() + cp.len()) + api.len() + callee_proto.len() + 256;
        budget.spend(size as u64, 0)?;
        out.push(ApiCall {
            rule_id: rule.id.clone(),
            identifiers: rule.identifiers.clone(),
            permissions: rule.permissions.clone(),
            api,
            callee_proto,
            caller: format!("{cc}->{cm}{cp}"),
            caller_class: cc,
            caller_method: cm,
            caller_proto: cp,
            opcode: OPCODE_NAMES
                .get(usize::from(opcode))
                .copied()
                .unwrap_or("unused"),
            count,
            dex: dex_name.to_string(),
            indirect: what == Ref::Indirect,
        });
    }
    out.sort_by(|a, b| {
        (&a.caller, &a.api, &a.callee_proto, a.opcode, &a.rule_id).cmp(&(
            &b.caller,
            &b.api,
            &b.callee_proto,
            b.opcode,
            &b.rule_id,
        ))
    });
    Ok(out)
}

fn bits_of(m: &HashMap<u32, Vec<usize>>, n: u32) -> Bits {
    let mut b = Bits::new(n);
    for &i in m.keys() {
        b.set(i);
    }
    b
}

/// Count key: (caller method idx, what, callee method/field/string idx, opcode, rule index).
type CountKey = (u32, Ref, u32, u8, usize);

struct Matcher<'r> {
    method_bits: Bits,
    field_bits: Bits,
    /// Method ids of [`REFLECTION_APIS`] (empty when no rule name is in the dex).
    reflect_bits: Bits,
    method_rules: &'r HashMap<u32, Vec<usize>>,
    field_rules: &'r HashMap<u32, Vec<usize>>,
    class_rules_of_type: &'r HashMap<u32, &'r [usize]>,
    type_bits: &'r Bits,
    /// Rule classes the current method loads with `const-class` (type ids).
    classes: Vec<u32>,
    string_slot: &'r HashMap<u32, usize>,
    wanted: &'r Wanted,
    /// Which wanted strings the current method loads, and which slots to clear at its end.
    seen: Vec<bool>,
    touched: Vec<usize>,
    /// The current method calls a reflection API.
    reflects: bool,
    /// Matching references in the current method: (what, callee or string idx, opcode).
    hits: Vec<(Ref, u32, u8)>,
    counts: BTreeMap<CountKey, u32>,
}

impl Matcher<'_> {
    /// Whether indirect calls can be found at all (some rule name is in the dex).
    #[inline]
    fn reflects_possible(&self) -> bool {
        !self.wanted.rules_named.is_empty()
    }

    fn seen(&self, slot: Option<&usize>) -> bool {
        slot.and_then(|s| self.seen.get(*s).copied())
            .unwrap_or(false)
    }

    /// Whether the current method names rule `ri`'s class.
    fn names_class(&self, ri: usize) -> bool {
        self.seen(self.wanted.class.get(&ri))
            || self.classes.iter().any(|t| {
                self.class_rules_of_type
                    .get(t)
                    .is_some_and(|rs| rs.contains(&ri))
            })
    }

    fn cond_ok(&self, ri: usize) -> bool {
        self.wanted.cond.get(&ri).is_none_or(|s| self.seen(Some(s)))
    }
}

impl CodeVisitor for Matcher<'_> {
    #[inline]
    fn on_ref(&mut self, r: CodeRef) {
        match r.kind {
            OpKind::Invoke | OpKind::InvokePolymorphic => {
                if self.method_bits.get(r.index) {
                    self.hits.push((Ref::Method, r.index, r.opcode));
                }
                if self.reflect_bits.get(r.index) {
                    self.reflects = true;
                }
            }
            OpKind::ConstClass
                if self.reflects_possible()
                    && self.type_bits.get(r.index)
                    && !self.classes.contains(&r.index) =>
            {
                self.classes.push(r.index);
            }
            OpKind::FieldRead if self.field_bits.get(r.index) => {
                self.hits.push((Ref::Field, r.index, r.opcode));
            }
            OpKind::ConstString | OpKind::ConstStringJumbo if !self.string_slot.is_empty() => {
                if let Some(&slot) = self.string_slot.get(&r.index) {
                    if let Some(s) = self.seen.get_mut(slot)
                        && !*s
                    {
                        *s = true;
                        self.touched.push(slot);
                    }
                    if self.wanted.rules_named.contains_key(&slot) {
                        self.hits.push((Ref::Indirect, r.index, r.opcode));
                    }
                }
            }
            _ => {}
        }
    }

    fn on_method_end(&mut self, caller: u32) {
        let hits = std::mem::take(&mut self.hits);
        for &(what, callee, opcode) in &hits {
            let candidates: Vec<usize> = match what {
                Ref::Method | Ref::Field => {
                    let map = if what == Ref::Field {
                        self.field_rules
                    } else {
                        self.method_rules
                    };
                    map.get(&callee)
                        .map(Vec::as_slice)
                        .unwrap_or(&[])
                        .iter()
                        .copied()
                        .filter(|&ri| self.cond_ok(ri))
                        .collect()
                }
                Ref::Indirect if self.reflects => {
                    let named: Vec<usize> = self
                        .string_slot
                        .get(&callee)
                        .and_then(|s| self.wanted.rules_named.get(s))
                        .map(Vec::as_slice)
                        .unwrap_or(&[])
                        .iter()
                        .copied()
                        .filter(|&ri| self.cond_ok(ri))
                        .collect();
                    // Prefer the rules whose class the method names.
                    let on_class: Vec<usize> = named
                        .iter()
                        .copied()
                        .filter(|&ri| self.names_class(ri))
                        .collect();
                    if on_class.is_empty() { named } else { on_class }
                }
                Ref::Indirect => Vec::new(),
            };
            for ri in candidates {
                *self
                    .counts
                    .entry((caller, what, callee, opcode, ri))
                    .or_insert(0) += 1;
            }
        }
        self.hits = hits;
        self.hits.clear();
        for s in self.touched.drain(..) {
            if let Some(x) = self.seen.get_mut(s) {
                *x = false;
            }
        }
        self.reflects = false;
        self.classes.clear();
    }
}
