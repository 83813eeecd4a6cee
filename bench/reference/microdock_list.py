"""Reference for the MicroDock list scenario: `GET /api/plugins/list` written the idiomatic way
with FastAPI + SQLAlchemy (async, aiosqlite) + Pydantic, untuned. A baseline for
docs/PERFORMANCE.md, not part of the product.

Usage: python microdock_list.py PORT DATA_JSON  (DATA_JSON: the plugin rows to serve)
"""
import json
import sys
from datetime import datetime
from typing import List, Optional

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Boolean, DateTime, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PORT = int(sys.argv[1])
DATA = sys.argv[2]
engine = create_async_engine(f"sqlite+aiosqlite:///{DATA}.db")
Session = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class Plugin(Base):
    __tablename__ = "plugins"
    name: Mapped[str] = mapped_column(String, primary_key=True)
    display_name: Mapped[Optional[str]] = mapped_column(String)
    description: Mapped[Optional[str]] = mapped_column(String)
    author: Mapped[Optional[str]] = mapped_column(String)
    license: Mapped[Optional[str]] = mapped_column(String)
    homepage: Mapped[Optional[str]] = mapped_column(String)
    main_dll: Mapped[str] = mapped_column(String)
    entry_class: Mapped[str] = mapped_column(String)
    current_version: Mapped[str] = mapped_column(String)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_deprecated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class PluginOut(BaseModel):
    model_config = {"from_attributes": True}
    name: str
    display_name: Optional[str]
    description: Optional[str]
    author: Optional[str]
    license: Optional[str]
    homepage: Optional[str]
    main_dll: str
    entry_class: str
    current_version: str
    is_enabled: bool
    is_deprecated: bool
    created_at: datetime
    updated_at: datetime


class ApiResponse(BaseModel):
    success: bool
    message: str
    data: List[PluginOut]


app = FastAPI()


@app.on_event("startup")
async def seed():
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    rows = json.load(open(DATA, encoding="utf-8"))
    async with Session() as s:
        for r in rows:
            r = dict(r)
            r["created_at"] = datetime.fromisoformat(r["created_at"].replace("Z", "+00:00"))
            r["updated_at"] = datetime.fromisoformat(r["updated_at"].replace("Z", "+00:00"))
            s.add(Plugin(**{k: v for k, v in r.items() if hasattr(Plugin, k)}))
        await s.commit()


@app.get("/api/plugins/list", response_model=ApiResponse)
async def list_plugins():
    async with Session() as s:
        result = await s.execute(select(Plugin).where(Plugin.is_enabled == True).order_by(Plugin.name))  # noqa: E712
        plugins = result.scalars().all()
    return ApiResponse(success=True, message="插件列表获取成功", data=[PluginOut.model_validate(p) for p in plugins])


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
