//! The tower-lsp-server glue: LSP messages in, features out.
//!
//! Document changes are applied in order, under the lock, before any
//! `await`; analyses run on blocking threads from a copy of the open
//! documents, and a result is published only if the documents it was
//! computed from are still the current versions (otherwise a newer
//! analysis is already on its way). Every feature runs behind a panic
//! guard: bad input never kills the server.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use expman_schema::{FileId, Node};
use tower_lsp_server::jsonrpc::{Error as RpcError, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, ClientSocket, LanguageServer, LspService};

use crate::completion::{Base, FileKind, complete};
use crate::convert::Text;
use crate::ext::{MERGE_PREVIEW, MergePreviewParams, MergePreviewResult};
use crate::settings::Settings;
use crate::worker::Worker;
use crate::world::{Doc, Snapshot, Target, World, analyze};

pub struct Backend {
    client: Client,
    world: Arc<Mutex<World>>,
    worker: Worker,
}

/// The service `expman lsp` serves (and tests drive).
pub fn service() -> std::io::Result<(LspService<Backend>, ClientSocket)> {
    let worker = Worker::spawn()?;
    let world = Arc::new(Mutex::new(World::new(std::env::vars().collect())));
    Ok(LspService::build(|client| Backend { client, world, worker })
        .custom_method(MERGE_PREVIEW, Backend::merge_preview)
        .finish())
}

fn path_of(uri: &Uri) -> Option<PathBuf> {
    uri.to_file_path().map(|p| p.into_owned())
}

/// Runs a feature; a panic becomes `None` and a log line, not a dead server.
fn guard<T>(what: &str, f: impl FnOnce() -> Option<T>) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(panic) => {
            let message =
                panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            tracing::error!("{what} failed: {}", message.unwrap_or_default());
            None
        }
    }
}

impl Backend {
    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-analyzes a target and publishes its diagnostics. Each call takes
    /// a new generation for the target; only the latest generation's
    /// result is published (older ones are skipped before they start, or
    /// dropped), and the latest one analyzes again until its result matches
    /// the documents as they are.
    async fn refresh(&self, target: Target) {
        let generation = self.world().next_generation(&target);
        let snap = loop {
            let (overlay, versions) = {
                let world = self.world();
                (world.overlay(), world.versions(&target))
            };
            let t = target.clone();
            let world = self.world.clone();
            let job = move || {
                // Skip the work when a newer refresh was asked for while this waited.
                let latest = world.lock().unwrap_or_else(|e| e.into_inner()).generation(&t);
                (latest == generation).then(|| Arc::new(analyze(t, &overlay, versions)))
            };
            let Some(snap) = self.worker.run("analysis", job).await.flatten() else { return };
            let (latest, now) = {
                let world = self.world();
                (world.generation(&target), world.versions(&target))
            };
            if latest != generation {
                self.worker.free(snap); // A newer refresh publishes.
                return;
            }
            if now == snap.versions {
                break snap;
            }
            self.worker.free(snap); // Documents changed meanwhile: again.
        };
        let (publish, previous_snapshot) = {
            let mut world = self.world();
            let previous_snapshot = world.snapshots.insert(target.clone(), snap.clone());
            let by_file = crate::diagnostics::by_file(&snap, &world.settings);
            let previous =
                world.published.insert(target.clone(), by_file.keys().cloned().collect()).unwrap_or_default();
            let mut publish: Vec<(PathBuf, Vec<Diagnostic>, Option<i32>)> = by_file
                .into_iter()
                .map(|(path, diags)| {
                    let version = world.docs.get(&path).map(|d| d.version);
                    (path, diags, version)
                })
                .collect();
            for old in previous {
                if !publish.iter().any(|(p, _, _)| *p == old) {
                    publish.push((old, Vec::new(), None));
                }
            }
            (publish, previous_snapshot)
        };
        // Freed where it was built (see `worker`), off the async threads.
        if let Some(old) = previous_snapshot {
            self.worker.free(old);
        }
        for (path, diags, version) in publish {
            if let Some(uri) = Uri::from_file_path(&path) {
                self.client.publish_diagnostics(uri, diags, version).await;
            }
        }
    }

    async fn refresh_path(&self, path: PathBuf) {
        let target = self.world().target_of(&path);
        match target {
            Some(t) => self.refresh(t).await,
            None => {
                // Not (or no longer) an expman config: clear what we showed.
                if let Some(uri) = Uri::from_file_path(&path) {
                    self.client.publish_diagnostics(uri, Vec::new(), None).await;
                }
            }
        }
    }

    /// The document's text, kind and snapshot for a feature: the current
    /// snapshot, else the latest one (an analysis is on its way), else one
    /// computed now (a request right after opening).
    async fn inputs(&self, uri: &Uri) -> Option<(PathBuf, FileKind, Text, Option<Arc<Snapshot>>)> {
        let (path, kind, text) = self.document(uri)?;
        let snap = {
            let world = self.world();
            world.current(&path).or_else(|| world.latest(&path))
        };
        let snap = match snap {
            Some(s) => Some(s),
            None => self.fresh_snapshot(&path).await,
        };
        Some((path, kind, text, snap))
    }

    /// An expman config's path, kind and text (open, else from disk).
    fn document(&self, uri: &Uri) -> Option<(PathBuf, FileKind, Text)> {
        let path = path_of(uri)?;
        let world = self.world();
        let text = match world.docs.get(&path) {
            Some(doc) => doc.text.clone(),
            None => Text::new(std::fs::read_to_string(&path).ok()?),
        };
        world.target_of(&path)?;
        let kind = FileKind::of(&path);
        Some((path, kind, text))
    }

    async fn merge_preview(&self, params: MergePreviewParams) -> Result<MergePreviewResult> {
        let path = path_of(&params.text_document.uri).ok_or_else(|| RpcError::invalid_params("not a file URI"))?;
        if self.world().target_of(&path).is_none() {
            return Err(RpcError::invalid_params("not an expman config"));
        }
        let snap = self.fresh_snapshot(&path).await.ok_or_else(RpcError::internal_error)?;
        crate::lens::preview(&snap, &params.trial, params.repeat).map_err(RpcError::invalid_params)
    }

    /// The analysis of the documents as they are now: the current snapshot,
    /// or a new one computed on the spot (a request right after an edit).
    async fn fresh_snapshot(&self, path: &std::path::Path) -> Option<Arc<Snapshot>> {
        let target = self.world().target_of(path)?;
        let current = self.world().current(path);
        match current {
            Some(s) => Some(s),
            None => {
                self.refresh(target).await;
                self.world().latest(path)
            }
        }
    }

    async fn load_settings(&self) {
        let items = vec![ConfigurationItem { scope_uri: None, section: Some("expman".into()) }];
        if let Ok(values) = self.client.configuration(items).await
            && let Some(value) = values.into_iter().next()
            && !value.is_null()
        {
            self.world().settings = Settings::from_json(&value);
        }
    }

    async fn refresh_all(&self) {
        let targets: Vec<Target> = self.world().snapshots.keys().cloned().collect();
        for t in targets {
            self.refresh(t).await;
        }
    }
}

fn parse_root(text: &Text) -> Node {
    expman_schema::yaml::parse(&text.text, FileId(0))
        .docs
        .into_iter()
        .next()
        .unwrap_or_else(|| Node::null(expman_schema::Span::NONE))
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let mut world = self.world();
        if let Some(options) = &params.initialization_options {
            world.settings = Settings::from_json(options);
        }
        let workspace = params.capabilities.workspace.as_ref();
        world.client_watches_files = workspace
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false);
        world.client_pulls_configuration = workspace.and_then(|w| w.configuration).unwrap_or(false);
        drop(world);
        Ok(InitializeResult {
            offset_encoding: None,
            server_info: Some(ServerInfo { name: "expman".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
            capabilities: ServerCapabilities {
                position_encoding: Some(PositionEncodingKind::UTF16),
                text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::INCREMENTAL)),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(vec![".".into(), ":".into(), " ".into(), "{".into(), "$".into()]),
                    ..CompletionOptions::default()
                }),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                definition_provider: Some(OneOf::Left(true)),
                document_symbol_provider: Some(OneOf::Left(true)),
                folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
                code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                    code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                    ..CodeActionOptions::default()
                })),
                code_lens_provider: Some(CodeLensOptions { resolve_provider: Some(false) }),
                references_provider: Some(OneOf::Left(true)),
                rename_provider: Some(OneOf::Right(RenameOptions {
                    prepare_provider: Some(true),
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                })),
                inlay_hint_provider: Some(OneOf::Left(true)),
                workspace_symbol_provider: Some(OneOf::Left(true)),
                diagnostic_provider: Some(DiagnosticServerCapabilities::Options(DiagnosticOptions {
                    identifier: Some("expman".into()),
                    inter_file_dependencies: true,
                    workspace_diagnostics: false,
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                })),
                ..ServerCapabilities::default()
            },
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let (watches, pulls) = {
            let world = self.world();
            (world.client_watches_files, world.client_pulls_configuration)
        };
        if pulls {
            self.load_settings().await;
        }
        if !watches {
            return;
        }
        let watch = DidChangeWatchedFilesRegistrationOptions {
            watchers: vec![FileSystemWatcher {
                glob_pattern: GlobPattern::String("**/*.{yaml,yml}".into()),
                kind: None,
            }],
        };
        let registration = Registration {
            id: "expman-watch".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(watch).ok(),
        };
        if let Err(e) = self.client.register_capability(vec![registration]).await {
            tracing::warn!("the client refused to watch files for us: {e}");
        }
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let Some(path) = path_of(&params.text_document.uri) else { return };
        {
            let mut world = self.world();
            world.docs.insert(
                path.clone(),
                Doc::new(&path, params.text_document.version, Text::new(params.text_document.text)),
            );
        }
        self.refresh_path(path).await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let Some(path) = path_of(&params.text_document.uri) else { return };
        {
            // In order, under the lock, before any await.
            let mut world = self.world();
            let Some(doc) = world.docs.get_mut(&path) else { return };
            let mut text = doc.text.text.to_string();
            for change in &params.content_changes {
                crate::convert::apply_change(&mut text, change);
            }
            *doc = Doc::new(&path, params.text_document.version, Text::new(text));
        }
        self.refresh_path(path).await;
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let Some(path) = path_of(&params.text_document.uri) else { return };
        let target = {
            let mut world = self.world();
            let target = world.target_of(&path);
            world.docs.remove(&path);
            target
        };
        // What is on disk counts again.
        if let Some(t) = target {
            self.refresh(t).await;
        }
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let mut targets: Vec<Target> = Vec::new();
        {
            let world = self.world();
            for change in &params.changes {
                let Some(path) = path_of(&change.uri) else { continue };
                if let Some(t) = world.target_of(&path).or_else(|| {
                    // A deleted config file: its directory's target.
                    path.parent().map(|d| Target::Dir(d.to_path_buf())).filter(|t| world.snapshots.contains_key(t))
                }) && !targets.contains(&t)
                {
                    targets.push(t);
                }
            }
        }
        for t in targets {
            self.refresh(t).await;
        }
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        if !params.settings.is_null() {
            self.world().settings = Settings::from_json(&params.settings);
        } else if self.world().client_pulls_configuration {
            self.load_settings().await;
        }
        self.refresh_all().await;
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let uri = params.text_document_position.text_document.uri;
        let Some((path, kind, text, snap)) = self.inputs(&uri).await else { return Ok(None) };
        let offset = text.offset(params.text_document_position.position);
        let items = guard("completion", || {
            let fallback;
            let base = match &snap {
                Some(s) => Some(Base { node: &s.base, sources: &s.sources }),
                None => {
                    fallback = expman_schema::load(&expman_schema::FsLoader, &path);
                    Some(Base { node: &fallback.project.base, sources: &fallback.sources })
                }
            };
            Some(complete(kind, &text, offset, base.as_ref()))
        });
        Ok(items.map(CompletionResponse::Array))
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let uri = params.text_document_position_params.text_document.uri;
        let Some((_, kind, text, snap)) = self.inputs(&uri).await else { return Ok(None) };
        let offset = text.offset(params.text_document_position_params.position);
        Ok(guard("hover", || crate::hover::hover(kind, &text, &parse_root(&text), offset, snap.as_deref())))
    }

    async fn goto_definition(&self, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>> {
        let uri = params.text_document_position_params.text_document.uri;
        let Some((path, kind, text, snap)) = self.inputs(&uri).await else { return Ok(None) };
        let offset = text.offset(params.text_document_position_params.position);
        let location = guard("definition", || {
            crate::definition::definition(kind, &path, &text, &parse_root(&text), offset, snap.as_deref())
        });
        Ok(location.map(GotoDefinitionResponse::Scalar))
    }

    async fn document_symbol(&self, params: DocumentSymbolParams) -> Result<Option<DocumentSymbolResponse>> {
        let Some((_, kind, text)) = self.document(&params.text_document.uri) else { return Ok(None) };
        Ok(guard("symbols", || {
            let root = parse_root(&text);
            let outline = match kind {
                FileKind::Role(expman_schema::Role::Trials) => crate::symbols::outline(&root, &text, true),
                FileKind::Single => crate::symbols::single_file_outline(&root, &text),
                _ => crate::symbols::outline(&root, &text, false),
            };
            Some(DocumentSymbolResponse::Nested(outline))
        }))
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        let Some((_, _, text)) = self.document(&params.text_document.uri) else { return Ok(None) };
        Ok(guard("folding", || Some(crate::symbols::folding(&parse_root(&text), &text))))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        Ok(guard("code actions", || Some(crate::actions::quick_fixes(&params.context.diagnostics))))
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let position = params.text_document_position;
        let Some((path, _, text, _)) = self.inputs(&position.text_document.uri).await else { return Ok(None) };
        let Some(snap) = self.fresh_snapshot(&path).await else { return Ok(None) };
        let offset = text.offset(position.position);
        let declaration = params.context.include_declaration;
        Ok(guard("references", || crate::navigate::references(&snap, &path, offset, declaration)))
    }

    async fn prepare_rename(&self, params: TextDocumentPositionParams) -> Result<Option<PrepareRenameResponse>> {
        let Some((path, _, text, _)) = self.inputs(&params.text_document.uri).await else { return Ok(None) };
        let Some(snap) = self.fresh_snapshot(&path).await else { return Ok(None) };
        let offset = text.offset(params.position);
        Ok(guard("prepare rename", || {
            let (range, placeholder) = crate::navigate::prepare_rename(&snap, &path, offset)?;
            Some(PrepareRenameResponse::RangeWithPlaceholder { range, placeholder })
        }))
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let position = params.text_document_position;
        let Some((path, _, text, _)) = self.inputs(&position.text_document.uri).await else { return Ok(None) };
        let Some(snap) = self.fresh_snapshot(&path).await else { return Ok(None) };
        let offset = text.offset(position.position);
        let outcome = guard("rename", || Some(crate::navigate::rename(&snap, &path, offset, &params.new_name)));
        match outcome {
            Some(Ok(edit)) => Ok(Some(edit)),
            Some(Err(why)) => Err(RpcError::invalid_params(why)),
            None => Err(RpcError::internal_error()),
        }
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let Some(path) = path_of(&params.text_document.uri) else { return Ok(None) };
        if self.world().target_of(&path).is_none() {
            return Ok(None);
        }
        let Some(snap) = self.fresh_snapshot(&path).await else { return Ok(None) };
        let range = params.range;
        Ok(guard("inlay hints", || {
            let hints = crate::navigate::inlay_hints(&snap, &path);
            Some(hints.into_iter().filter(|h| range.start <= h.position && h.position <= range.end).collect())
        }))
    }

    async fn symbol(&self, params: WorkspaceSymbolParams) -> Result<Option<WorkspaceSymbolResponse>> {
        let snaps: Vec<Arc<Snapshot>> = {
            let world = self.world();
            let targets: Vec<Target> = world.snapshots.keys().cloned().collect();
            targets.iter().filter_map(|t| world.snapshots.get(t).cloned()).collect()
        };
        Ok(guard("workspace symbols", || {
            let refs: Vec<&Snapshot> = snaps.iter().map(Arc::as_ref).collect();
            Some(WorkspaceSymbolResponse::Nested(crate::navigate::workspace_symbols(&refs, &params.query)))
        }))
    }

    async fn diagnostic(&self, params: DocumentDiagnosticParams) -> Result<DocumentDiagnosticReportResult> {
        let full = |items: Vec<Diagnostic>| {
            DocumentDiagnosticReportResult::Report(DocumentDiagnosticReport::Full(
                RelatedFullDocumentDiagnosticReport {
                    related_documents: None,
                    full_document_diagnostic_report: FullDocumentDiagnosticReport { result_id: None, items },
                },
            ))
        };
        let Some(path) = path_of(&params.text_document.uri) else { return Ok(full(Vec::new())) };
        if self.world().target_of(&path).is_none() {
            return Ok(full(Vec::new()));
        }
        let Some(snap) = self.fresh_snapshot(&path).await else { return Ok(full(Vec::new())) };
        let items = {
            let world = self.world();
            guard("pulled diagnostics", || crate::diagnostics::by_file(&snap, &world.settings).remove(&path))
        };
        Ok(full(items.unwrap_or_default()))
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let uri = params.text_document.uri;
        let Some(path) = path_of(&uri) else { return Ok(None) };
        let Some(snap) = self.fresh_snapshot(&path).await else { return Ok(None) };
        Ok(guard("code lenses", || Some(crate::lens::lenses(&snap, &path, &uri))))
    }
}
