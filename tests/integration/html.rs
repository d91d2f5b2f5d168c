//! A parsed HTML page for tests: html5ever (the HTML standard's parsing algorithm) with its
//! parse errors kept, and a few ways to find elements.

#![allow(dead_code)]

use html5ever::tendril::TendrilSink;
use markup5ever_rcdom::{Handle, NodeData, RcDom};

/// A page and the errors the parser met.
pub struct Page {
    pub root: Handle,
    pub errors: Vec<String>,
}

/// An element: its name, attributes and the handle to walk further.
#[derive(Clone)]
pub struct Element {
    pub handle: Handle,
    pub name: String,
    pub attrs: Vec<(String, String)>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_whitespace().any(|x| x == class))
    }

    /// Every descendant element (document order).
    pub fn descendants(&self) -> Vec<Element> {
        let mut out = Vec::new();
        collect(&self.handle, &mut out);
        out
    }

    /// The text inside, concatenated.
    pub fn text(&self) -> String {
        let mut s = String::new();
        text_of(&self.handle, &mut s);
        s
    }
}

fn element_of(h: &Handle) -> Option<Element> {
    match &h.data {
        NodeData::Element { name, attrs, .. } => Some(Element {
            handle: h.clone(),
            name: name.local.to_string(),
            attrs: attrs
                .borrow()
                .iter()
                .map(|a| (a.name.local.to_string(), a.value.to_string()))
                .collect(),
        }),
        _ => None,
    }
}

fn collect(h: &Handle, out: &mut Vec<Element>) {
    for c in h.children.borrow().iter() {
        if let Some(e) = element_of(c) {
            out.push(e);
        }
        collect(c, out);
    }
}

fn text_of(h: &Handle, out: &mut String) {
    for c in h.children.borrow().iter() {
        match &c.data {
            NodeData::Text { contents } => out.push_str(&contents.borrow()),
            _ => text_of(c, out),
        }
    }
}

impl Page {
    pub fn parse(html: &str) -> Page {
        let dom: RcDom = html5ever::parse_document(RcDom::default(), Default::default())
            .from_utf8()
            .read_from(&mut html.as_bytes())
            .expect("reading from memory");
        let errors = dom.errors.borrow().iter().map(|e| e.to_string()).collect();
        Page {
            root: dom.document.clone(),
            errors,
        }
    }

    /// Every element of the page.
    pub fn elements(&self) -> Vec<Element> {
        let mut out = Vec::new();
        collect(&self.root, &mut out);
        out
    }

    pub fn by_id(&self, id: &str) -> Option<Element> {
        self.elements()
            .into_iter()
            .find(|e| e.attr("id") == Some(id))
    }

    /// Elements named `tag` with class `class` (any class when empty).
    pub fn select(&self, tag: &str, class: &str) -> Vec<Element> {
        self.elements()
            .into_iter()
            .filter(|e| e.name == tag && (class.is_empty() || e.has_class(class)))
            .collect()
    }

    pub fn text(&self) -> String {
        let mut s = String::new();
        text_of(&self.root, &mut s);
        s
    }
}
